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
//!   test). The receive buffer (64 KiB) grows (doubling, up to ~64 MiB) only
//!   for larger responses, e.g. instruments-info at start-up.
//! * Keep-alive loss: a connection the server closes while idle (EOF seen
//!   by `poll_response`, a close the caller saw on the readiness event and
//!   passed on with [`HttpConn::peer_closed`], or a response with
//!   `Connection: close`) is replaced
//!   transparently and at once, so the next order finds a warm connection.
//!   If the replacement fails, or a connection died otherwise, the next
//!   `send` reconnects and says so with [`SendOutcome::Reconnected`]. Every
//!   replacement increments [`HttpConn::reconnects`]. A connection that dies
//!   with a request in flight returns `Closed { code: 0 }` from
//!   `poll_response`: the request may or may not have been executed, so it is
//!   never resent automatically.
//! * Framing is the REST codec's incremental [`parse_response`]
//!   (Content-Length or chunked, de-chunked in place, keep-alive and
//!   `X-Bapi-Limit*` headers, which [`Response::meta`] carries); a response
//!   without a length is a protocol error (Bybit always sends one).
//! * Pipelining is not supported: one request in flight at a time.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use mio::{Registry, Token};

use super::stream::{map_io, wait_fd, ConnState, NetStream};
use super::{Endpoint, NetError};
use crate::codec::rest::{parse_response, ResponseHead, RestError, MAX_BODY, MAX_HEAD};

/// Initial receive buffer size.
const RX_INITIAL: usize = 64 * 1024;
/// Receive buffer limit: the codec's largest head plus largest body, plus
/// chunk framing slack.
const RX_MAX: usize = 2 * (MAX_HEAD + MAX_BODY);

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

fn map_rest_err(e: RestError) -> NetError {
    match e {
        RestError::Http(what) => NetError::Protocol(what),
        RestError::HeadTooLarge => NetError::Protocol("http response head too large"),
        RestError::BodyTooLarge => NetError::Protocol("http response body too large"),
        RestError::NoContentLength => NetError::Protocol("http response has no length"),
        _ => NetError::Protocol("http response rejected"),
    }
}

/// A complete response, borrowing the connection's receive buffer until the
/// next call on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'a> {
    /// Status code.
    pub status: u16,
    /// What the REST codec parsed from the head (keep-alive, length, rate-limit headers).
    pub meta: ResponseHead,
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
    meta: ResponseHead,
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
    in_flight: bool,
    eof: bool,
    /// The readiness event said the peer closed ([`HttpConn::peer_closed`]).
    peer_closed: bool,
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
            in_flight: false,
            eof: false,
            peer_closed: false,
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
        self.in_flight = false;
        self.eof = false;
        self.peer_closed = false;
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
            return Err(self.fail(e));
        }
        self.in_flight = true;
        Ok(outcome)
    }

    /// Drops the connection and the request in flight, if any: its response
    /// is never read (so it cannot be taken for the answer to a later
    /// request). The next `send` connects anew ([`SendOutcome::Reconnected`]).
    pub fn abandon(&mut self) {
        if self.stream.is_some() {
            self.drop_stream();
        }
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
            Err(e) => Err(self.fail(map_io(&e))),
        }
    }

    /// Tells the connection that its readiness event reported the peer's
    /// close (mio's `is_read_closed()` or `is_error()`). A drain ends on a
    /// short read without the final `recv` (it saves ~0.4 µs), so an EOF that
    /// came in the same event as the last bytes would otherwise go unseen
    /// until the next `send` found the socket dead. The next
    /// [`poll_response`](Self::poll_response) reads what is left, then treats
    /// the connection as ended: a complete response is still returned, an
    /// idle connection is replaced at once, an unfinished request fails.
    pub fn peer_closed(&mut self) {
        if self.stream.is_some() {
            self.peer_closed = true;
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
            status: r.meta.status,
            meta: r.meta,
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
    }

    /// Drops the connection; a WebSocket-style close code is meaningless
    /// here, so every `Closed` is reported as `Closed { code: 0 }`.
    fn fail(&mut self, e: NetError) -> NetError {
        self.drop_stream();
        match e {
            NetError::Closed { .. } => NetError::Closed { code: 0 },
            e => e,
        }
    }

    fn poll_inner(&mut self) -> Result<Option<Ready>, NetError> {
        self.discard_consumed();
        let Some(s) = self.stream.as_mut() else {
            // Idle with no connection (e.g. after `Connection: close`): nothing to do.
            return Ok(None);
        };
        match s.poll_tcp() {
            Ok(true) => s.rearm(),
            Ok(false) => return Ok(None),
            Err(e) => return Err(self.fail(e)),
        }
        // Drain until WouldBlock (edge-triggered), growing the buffer if a
        // large response needs it.
        while !self.eof {
            if self.filled == self.rx.len() {
                if self.rx.len() >= RX_MAX {
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
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Everything before the peer's FIN has been read.
                    self.eof = self.peer_closed;
                    break;
                }
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
                if !r.meta.keep_alive || self.eof {
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
        let Some(p) = parse_response(&mut self.rx[..self.filled]).map_err(map_rest_err)? else {
            return Ok(None);
        };
        self.consumed = p.consumed;
        // The codec puts the (de-chunked) body right after the head's blank line.
        let head_len = p.body.start;
        Ok(Some(Ready {
            meta: p.head,
            head_len,
            body_start: p.body.start,
            body_len: p.body.len(),
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
            meta: ResponseHead {
                status: 200,
                keep_alive: true,
                content_length: Some(0),
                chunked: false,
                rate_limit: Default::default(),
            },
            head: b"HTTP/1.1 200 OK\r\nX-Bapi-Limit:  9 \r\nB: 2",
            body: b"",
        };
        assert_eq!(r.header("x-bapi-limit"), Some(&b"9"[..]));
        assert_eq!(r.header("b"), Some(&b"2"[..]));
        assert_eq!(r.header("c"), None);
    }
}
