//! Client-side network layer for the busy-poll engine threads: non-blocking
//! WebSocket ([`ws::WsConn`]) and keep-alive HTTP/1.1 ([`http::HttpConn`])
//! connections over mio TCP, optionally wrapped in rustls.
//!
//! # Threading and polling model
//!
//! One `mio::Poll` per engine thread; every connection registers its socket
//! with that poll's [`mio::Registry`] under a caller-chosen [`mio::Token`]
//! (the connection keeps a cloned `Registry` so it can re-register itself
//! when it reconnects). A thread therefore services any number of
//! connections with one `epoll_wait(0)` per loop iteration (~210 ns idle on
//! the reference VM, crate-stack.md §5.6) and only touches the sockets that
//! reported readiness. Registrations are edge-triggered: after an event for a
//! token, call the connection's drain method ([`ws::WsConn::read_frames`],
//! [`http::HttpConn::poll_response`]), which reads until `WouldBlock`, and
//! [`ws::WsConn::flush_pending`] / [`http::HttpConn::flush_pending`] while
//! `has_pending()` is true. Spurious events are harmless.
//!
//! # Contract
//!
//! * Nothing here blocks except the explicitly named start-up helpers
//!   (`connect_blocking`, `request_blocking`, [`url::Url::resolve`]), which
//!   take a timeout (DNS resolution has none: it uses the system resolver).
//! * No locks; syscalls only for socket I/O (plus `epoll_ctl` on (re)connect;
//!   with transmit stamps ([`txstamp`]) also `setsockopt` on connect, and
//!   `recvmsg(MSG_ERRQUEUE)` / `getsockopt(SO_ERROR)` when a stamp is queued).
//! * Allocation on the steady-state hot path: none for plain TCP (proved by
//!   `tests/alloc_net.rs`); with TLS rustls 0.23's buffered API allocates per
//!   TLS record (see [`ws`] and [`http`] for the measured counts).
//! * Clock: none read internally; timers ([`ws::PingTimer`],
//!   [`backoff::Backoff`]) take the caller's `Instant`.

pub mod backoff;
pub mod http;

mod stream;
pub mod tls;
pub mod txstamp;
pub mod url;
pub mod warm;
pub mod ws;

use std::fmt;
use std::io;

pub use stream::ConnState;

/// Errors of the network layer. Small and `Copy`: context is `&'static str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetError {
    /// A socket operation failed with this kind (never `WouldBlock`: that is
    /// handled inside the layer).
    Io(io::ErrorKind),
    /// A URL could not be parsed (what was wrong).
    Url(&'static str),
    /// The host name did not resolve to any address.
    Resolve,
    /// TLS configuration or session failure (what failed).
    Tls(&'static str),
    /// The WebSocket opening handshake failed (why).
    Handshake(&'static str),
    /// The peer closed the connection; `code` is the WebSocket close code
    /// (1005 when the close frame had none, 1006 when the TCP connection
    /// ended without a close frame, 0 for HTTP).
    Closed {
        /// WebSocket close code (0 for HTTP connections).
        code: u16,
    },
    /// The peer violated the WebSocket or HTTP protocol (how).
    Protocol(&'static str),
    /// The operation needs an open connection.
    NotOpen,
    /// The caller's payload was rejected before anything was written (why);
    /// the connection is unchanged.
    InvalidInput(&'static str),
    /// A blocking start-up helper ran out of time.
    Timeout,
    /// An open connection received nothing (no frame of any kind, not even
    /// the answer to our heartbeat) for its dead-link timeout: the peer is
    /// presumed gone without a FIN/RST. The connection was dropped.
    Silent,
}

impl NetError {
    /// True when the connection that produced this error is unusable and must
    /// be re-established (after a backoff). `InvalidInput`,
    /// `NotOpen` and `Timeout` leave the connection as it was.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            NetError::InvalidInput(_) | NetError::NotOpen | NetError::Timeout
        )
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Io(k) => write!(f, "socket error: {k}"),
            NetError::Url(what) => write!(f, "bad url: {what}"),
            NetError::Resolve => f.write_str("host name did not resolve"),
            NetError::Tls(what) => write!(f, "tls: {what}"),
            NetError::Handshake(what) => write!(f, "websocket handshake failed: {what}"),
            NetError::Closed { code } => write!(f, "connection closed by peer (code {code})"),
            NetError::Protocol(what) => write!(f, "protocol violation: {what}"),
            NetError::NotOpen => f.write_str("connection is not open"),
            NetError::InvalidInput(what) => write!(f, "invalid input: {what}"),
            NetError::Timeout => f.write_str("timed out"),
            NetError::Silent => f.write_str("connection silent past its dead-link timeout"),
        }
    }
}

impl std::error::Error for NetError {}

impl From<io::Error> for NetError {
    fn from(e: io::Error) -> NetError {
        stream::map_io(&e)
    }
}

/// Where to connect: a parsed URL, its resolved socket address and, for
/// `wss`/`https`, the TLS config and server name. Built once at start-up and
/// reused for every reconnect (no DNS on reconnect).
#[derive(Clone)]
pub struct Endpoint {
    url: url::Url,
    addr: std::net::SocketAddr,
    tls: Option<(
        std::sync::Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    )>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url.as_str())
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Endpoint {
    /// Resolves `url` (blocking DNS for host names; start-up only). `tls` is
    /// required for `wss`/`https` and must be `None` for `ws`/`http`.
    pub fn new(
        url: url::Url,
        tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    ) -> Result<Endpoint, NetError> {
        let addr = url.resolve()?;
        Endpoint::with_addr(url, addr, tls)
    }

    /// Like [`Endpoint::new`] but connects to `addr` instead of resolving the
    /// URL's host (the host is still used for `Host:` and TLS verification).
    pub fn with_addr(
        url: url::Url,
        addr: std::net::SocketAddr,
        tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    ) -> Result<Endpoint, NetError> {
        let tls = match (url.is_tls(), tls) {
            (true, Some(cfg)) => Some((cfg, tls::server_name(url.host())?)),
            (true, None) => return Err(NetError::Tls("wss/https URL needs a TLS config")),
            (false, Some(_)) => return Err(NetError::Tls("TLS config given for a plain URL")),
            (false, None) => None,
        };
        Ok(Endpoint { url, addr, tls })
    }

    /// The URL.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// The socket address connected to.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    fn connect(
        &self,
        registry: &mio::Registry,
        token: mio::Token,
    ) -> Result<stream::NetStream, NetError> {
        stream::NetStream::connect(
            self.addr,
            self.tls.as_ref().map(|(c, n)| (c, n)),
            registry,
            token,
        )
    }
}
