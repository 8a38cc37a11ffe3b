//! The byte transport under both connection types: a non-blocking mio
//! `TcpStream`, optionally wrapped in a rustls client session, that never
//! loses written bytes.
//!
//! Write contract: `write` always accepts the whole buffer (unless the TLS
//! send buffer limit is hit) and tries to send it at once; whatever the
//! socket does not take stays queued here (plain: in `out`, TLS: inside
//! rustls) and is sent, in order, by later `write`/`flush_out` calls. This
//! keeps byte order intact when tungstenite (pongs, close) and our own frame
//! writer share the stream, and means `has_pending()` is the one place to ask
//! whether a flush is owed. Read contract: `read` returns `WouldBlock` when
//! the socket returned it or when a socket read in the current drain came
//! back short (the kernel queue was empty then; see `rearm`), so a
//! drain-until-`WouldBlock` loop leaves nothing behind that would not raise
//! a new edge-triggered event. TLS handshake progress happens
//! inside `read`/`write`/`flush_out`.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use super::NetError;

/// Connection progress as reported by `poll_connect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// No connection (never started, or closed / failed).
    Closed,
    /// TCP connect in progress.
    Connecting,
    /// TCP is up; TLS and/or WebSocket handshake in progress.
    Handshaking,
    /// Ready for traffic.
    Open,
}

/// Outgoing plain-TCP queue capacity reserved at connect time.
const OUT_CAPACITY: usize = 64 * 1024;

/// A TLS failure carried inside an `io::Error` (only built on fatal paths).
#[derive(Debug)]
pub(crate) struct TlsFailure(pub &'static str);

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for TlsFailure {}

pub(crate) fn tls_error_name(e: &rustls::Error) -> &'static str {
    use rustls::Error as E;
    match e {
        E::InvalidCertificate(_) => "invalid peer certificate",
        E::AlertReceived(_) => "alert received from peer",
        E::DecryptError => "decrypt error",
        E::PeerIncompatible(_) => "peer incompatible",
        E::PeerMisbehaved(_) => "peer misbehaved",
        E::InvalidMessage(_) => "invalid tls message",
        E::NoCertificatesPresented => "no certificates presented",
        E::PeerSentOversizedRecord => "oversized record",
        _ => "tls session error",
    }
}

pub(crate) fn map_io(e: &io::Error) -> NetError {
    if let Some(inner) = e.get_ref() {
        if let Some(t) = inner.downcast_ref::<TlsFailure>() {
            return NetError::Tls(t.0);
        }
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => NetError::Closed { code: 1006 },
        k => NetError::Io(k),
    }
}

/// Non-blocking TCP (+ optional TLS) byte stream; see the module doc.
pub(crate) struct NetStream {
    sock: TcpStream,
    tls: Option<Box<ClientConnection>>,
    /// Plain TCP only: bytes accepted by `write` but not yet by the socket.
    out: Vec<u8>,
    out_pos: usize,
    connected: bool,
    /// A socket read in the current drain came back short (or WouldBlock):
    /// the kernel queue was empty at that moment, so further reads in this
    /// drain return `WouldBlock` without a syscall. Cleared by `rearm`.
    drained: bool,
    /// Ask the kernel for transmit timestamps once TCP is connected.
    want_tx_stamps: bool,
    /// Transmit timestamps are on ([`super::txstamp`]).
    tx_stamps: bool,
    /// Bytes the socket has taken since stamps were enabled (their keys).
    sent: u64,
}

/// The socket as rustls sees it: records a short read in `drained`.
struct Tracked<'a> {
    sock: &'a mut TcpStream,
    drained: &'a mut bool,
}

impl Read for Tracked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_tracked(self.sock, self.drained, buf)
    }
}

fn read_tracked(sock: &mut TcpStream, drained: &mut bool, buf: &mut [u8]) -> io::Result<usize> {
    if *drained {
        return Err(io::ErrorKind::WouldBlock.into());
    }
    match sock.read(buf) {
        Ok(n) => {
            if n < buf.len() {
                *drained = true;
            }
            Ok(n)
        }
        Err(e) => {
            if e.kind() == io::ErrorKind::WouldBlock {
                *drained = true;
            }
            Err(e)
        }
    }
}

impl NetStream {
    /// Starts a non-blocking TCP connect (plus a TLS session when `tls` is
    /// given) and registers the socket for READABLE | WRITABLE.
    pub(crate) fn connect(
        addr: SocketAddr,
        tls: Option<(&Arc<ClientConfig>, &ServerName<'static>)>,
        registry: &Registry,
        token: Token,
    ) -> Result<NetStream, NetError> {
        let mut sock = TcpStream::connect(addr)?;
        // Best effort before the connect completes; repeated once connected.
        let _ = sock.set_nodelay(true);
        let tls = match tls {
            Some((cfg, name)) => {
                let mut c = ClientConnection::new(Arc::clone(cfg), name.clone())
                    .map_err(|e| NetError::Tls(tls_error_name(&e)))?;
                // Unbounded like the plain queue: a message is never cut in half.
                // A peer that stops reading shows up as `has_pending()` staying
                // true; the owner decides when that is fatal.
                c.set_buffer_limit(None);
                Some(Box::new(c))
            }
            None => None,
        };
        registry.register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)?;
        Ok(NetStream {
            sock,
            tls,
            out: Vec::with_capacity(OUT_CAPACITY),
            out_pos: 0,
            connected: false,
            drained: false,
            want_tx_stamps: false,
            tx_stamps: false,
            sent: 0,
        })
    }

    /// Asks for kernel transmit timestamps as soon as TCP is connected
    /// (before any byte is written, so offsets count from the first byte).
    pub(crate) fn want_tx_timestamps(&mut self) {
        self.want_tx_stamps = true;
    }

    /// The key of the transmit stamp that will mark the last byte written so
    /// far, if stamps are on and nothing is still queued here.
    pub(crate) fn last_tx_key(&self) -> Option<u32> {
        (self.tx_stamps && self.sent > 0 && !self.has_pending()).then(|| (self.sent - 1) as u32)
    }

    /// Reads the queued transmit stamps (see [`super::txstamp::drain`]).
    pub(crate) fn drain_tx_timestamps(
        &mut self,
        f: impl FnMut(super::txstamp::TxStamp),
    ) -> io::Result<usize> {
        if !self.tx_stamps {
            return Ok(0);
        }
        super::txstamp::drain(self.raw_fd(), f)
    }

    /// The socket's pending error (`SO_ERROR`), if any: tells a failed
    /// connection from an `EPOLLERR` raised by a queued transmit stamp.
    pub(crate) fn take_socket_error(&mut self) -> Option<io::Error> {
        match self.sock.take_error() {
            Ok(e) => e,
            Err(e) => Some(e),
        }
    }

    pub(crate) fn deregister(&mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.sock);
    }

    /// Checks whether the TCP connect finished; flushes queued bytes when it
    /// did. `Ok(false)` = still in progress.
    pub(crate) fn poll_tcp(&mut self) -> Result<bool, NetError> {
        if self.connected {
            return Ok(true);
        }
        if let Some(e) = self.sock.take_error()? {
            return Err(NetError::from(e));
        }
        match self.sock.peer_addr() {
            Ok(_) => {
                self.connected = true;
                let _ = self.sock.set_nodelay(true);
                if self.want_tx_stamps {
                    // Without stamps the connection still works; figures are
                    // then only taken at `write` return.
                    self.tx_stamps = super::txstamp::enable(self.raw_fd()).is_ok();
                    self.sent = 0;
                }
                self.flush_out()?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(NetError::from(e)),
        }
    }

    /// Starts a new drain: the next read goes to the socket again. Call at
    /// every entry point that reads after a readiness event (or on a whim:
    /// it only costs a syscall that may find nothing).
    ///
    /// Why this is sound with edge-triggered epoll on Linux: an event is
    /// queued on every arrival of new data, not only on the empty→non-empty
    /// transition, so once a read came back short, anything that arrives
    /// later raises a fresh event. This saves the final `recv` → EAGAIN
    /// (~0.4 µs) per drain.
    pub(crate) fn rearm(&mut self) {
        self.drained = false;
    }

    pub(crate) fn is_tcp_connected(&self) -> bool {
        self.connected
    }

    /// True while the TLS handshake is still running (false for plain TCP).
    pub(crate) fn tls_handshaking(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.is_handshaking())
    }

    /// Bytes accepted but not yet handed to the kernel.
    pub(crate) fn has_pending(&self) -> bool {
        match &self.tls {
            Some(t) => t.wants_write(),
            None => self.out_pos < self.out.len(),
        }
    }

    /// Raw fd for the blocking start-up helpers.
    pub(crate) fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.sock.as_raw_fd()
    }

    /// Sends queued bytes. `Ok(true)` = nothing left queued.
    pub(crate) fn flush_out(&mut self) -> io::Result<bool> {
        if !self.connected {
            return Ok(false);
        }
        match &mut self.tls {
            Some(t) => {
                while t.wants_write() {
                    match t.write_tls(&mut self.sock) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => self.sent += n as u64,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(true)
            }
            None => {
                while self.out_pos < self.out.len() {
                    match self.sock.write(&self.out[self.out_pos..]) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => {
                            self.out_pos += n;
                            self.sent += n as u64;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                self.out.clear();
                self.out_pos = 0;
                Ok(true)
            }
        }
    }

    /// Accepts as much of `buf` as the queue limit allows (all of it for
    /// plain TCP) and tries to send it. Returns the number accepted.
    fn accept(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.tls {
            Some(t) => {
                let n = t.writer().write(buf)?;
                self.flush_out()?;
                Ok(n)
            }
            None => {
                if self.connected && self.out_pos == self.out.len() {
                    // Fast path: nothing queued, one write syscall.
                    let mut done = 0;
                    while done < buf.len() {
                        match self.sock.write(&buf[done..]) {
                            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                            Ok(n) => {
                                done += n;
                                self.sent += n as u64;
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                    if done < buf.len() {
                        self.out.clear();
                        self.out_pos = 0;
                        self.out.extend_from_slice(&buf[done..]);
                    }
                } else {
                    self.out.extend_from_slice(buf);
                    self.flush_out()?;
                }
                Ok(buf.len())
            }
        }
    }

    /// Writes one complete message: all of `buf` is queued and as much as the
    /// socket takes is sent (one `write`/`writev` when nothing was queued).
    pub(crate) fn write_message(&mut self, buf: &[u8]) -> Result<(), NetError> {
        let n = self.accept(buf)?;
        debug_assert_eq!(n, buf.len(), "queues are unbounded");
        Ok(())
    }
}

impl Read for NetStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.connected {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if self.has_pending() {
            // Writes owed from an earlier WouldBlock go out before we read
            // (the handshake only reads once its request is queued).
            self.flush_out()?;
        }
        let Some(t) = &mut self.tls else {
            return read_tracked(&mut self.sock, &mut self.drained, buf);
        };
        loop {
            match t.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            // No plaintext buffered: pull more TLS records off the socket.
            let mut tracked = Tracked {
                sock: &mut self.sock,
                drained: &mut self.drained,
            };
            match t.read_tls(&mut tracked) {
                Ok(0) => return Ok(0),
                Ok(_) => {
                    if let Err(e) = t.process_new_packets() {
                        // Try to get the alert out; the session is dead anyway.
                        if let Ok(n) = t.write_tls(&mut self.sock) {
                            self.sent += n as u64;
                        }
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            TlsFailure(tls_error_name(&e)),
                        ));
                    }
                    if t.wants_write() {
                        // Handshake messages, key updates, or plaintext
                        // released when the handshake completed.
                        loop {
                            match t.write_tls(&mut self.sock) {
                                Ok(n) => {
                                    // Every byte the socket takes moves the
                                    // transmit-stamp key, handshake bytes too.
                                    self.sent += n as u64;
                                    if !t.wants_write() {
                                        break;
                                    }
                                }
                                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                                Err(e) => return Err(e),
                            }
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for NetStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.accept(buf)
    }

    /// `WouldBlock` while bytes remain queued (tungstenite then keeps its own
    /// "flush owed" state; we track it via `has_pending`).
    fn flush(&mut self) -> io::Result<()> {
        if self.flush_out()? {
            Ok(())
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}

/// Blocks (start-up helpers only) until the socket is readable or, when
/// `want_write`, writable, or `deadline` passes (`Err(Timeout)`).
pub(crate) fn wait_fd(
    fd: std::os::fd::RawFd,
    want_write: bool,
    deadline: Instant,
) -> Result<(), NetError> {
    let now = Instant::now();
    if now >= deadline {
        return Err(NetError::Timeout);
    }
    let ms = (deadline - now).as_millis().clamp(1, i32::MAX as u128) as i32;
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN | if want_write { libc::POLLOUT } else { 0 },
        revents: 0,
    };
    // SAFETY: `pfd` is a valid, initialised pollfd and we pass a count of 1.
    let r = unsafe { libc::poll(&mut pfd, 1, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(());
        }
        return Err(NetError::from(e));
    }
    Ok(())
}
