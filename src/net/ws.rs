//! Non-blocking WebSocket client for busy-poll threads.
//!
//! [`WsConn`] = mio TCP (TCP_NODELAY) + optional rustls session + a
//! tungstenite 0.30 client whose opening handshake is driven as a resumable
//! state machine ([`WsConn::poll_connect`]); [`WsConn::connect_blocking`]
//! wraps it with a timeout for start-up.
//!
//! # Hot-path contract
//!
//! * [`WsConn::read_frames`] is called after the thread's `Poll` reported the
//!   connection's token; it drains every complete frame until the socket says
//!   `WouldBlock` (edge-triggered registration) and hands each text/binary
//!   payload to a closure as a slice into tungstenite's read buffer. Server
//!   pings are answered (tungstenite queues the pong; we flush it before
//!   returning). The tungstenite read buffer is 4 KiB: tungstenite zero-fills
//!   it on every read attempt, including the one after the last frame of a
//!   drain, which runs before the stage returns and so lies on the
//!   tick-to-wire path (an empty attempt costs ~0.46 µs at 4 KiB, ~0.58 µs at
//!   16 KiB, ~1.65 µs at the default 128 KiB). Bigger frames (a 200-level
//!   snapshot) just take more reads: tungstenite reserves a frame's full
//!   length up front. It must only be called after readiness.
//! * Because a short read ends the drain, a peer close that arrives in the
//!   same readiness event as the last data is not read here: the caller must
//!   treat an event with `is_read_closed()` or `is_error()` as a lost
//!   connection (the engine's stages do). This saves one `recv` per drain.
//! * [`WsConn::send_text`] does not go through tungstenite's `Message` API,
//!   which needs an owned `Utf8Bytes` (one allocation + copy per message, plus
//!   a second copy into tungstenite's write buffer). It masks the caller's
//!   bytes into a reused per-connection frame buffer and hands that to the
//!   socket in one `write` (plain) or one rustls `write` + `write_tls` (TLS).
//!   Byte order with tungstenite's own writes (pong, close) is kept because
//!   both go through the same always-accepting transport queue and
//!   tungstenite's queue is flushed into it first.
//! * Allocations after warm-up, measured by `tests/alloc_net.rs`:
//!   plain `ws://`: **0** per received frame and **0** per sent frame.
//!   `wss://`: rustls 0.23's buffered API allocates per TLS record — it copies
//!   every decrypted record into a fresh `Vec` (`take_received_plaintext`)
//!   and every encrypted outgoing record into a fresh `Vec`; the test asserts
//!   the measured bounds (see there).
//! * No locks, no clock reads, no syscalls other than socket I/O; no panics on
//!   peer input (every peer error is a [`NetError`]).
//! * Liveness is left to the owner: [`WsConn::read_frames`] only bumps a
//!   plain counter per frame received of any kind
//!   ([`WsConn::frames_received`]); the owner's timer compares it with the
//!   value it saw last (no clock read per frame).
//! * Masking keys come from a per-connection xorshift generator seeded from
//!   std's `RandomState` (OS randomness); RFC 6455 masking only protects
//!   intermediaries from cache poisoning, it is not a secrecy mechanism.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::time::{Duration, Instant};

use mio::{Registry, Token};
use tungstenite::client::client_with_config;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

use super::stream::{map_io, wait_fd, ConnState, NetStream};
use super::{Endpoint, NetError};

/// tungstenite read-buffer size (see the module doc).
pub const READ_BUFFER_SIZE: usize = 4 * 1024;
/// Bybit's application-level heartbeat (protocol.md §1.2), every 20 s.
pub const BYBIT_PING: &[u8] = br#"{"op":"ping"}"#;
/// Bybit's recommended heartbeat interval.
pub const BYBIT_PING_INTERVAL: Duration = Duration::from_secs(20);
/// Capacity reserved for the outgoing frame buffer (larger frames grow it once).
const FRAME_BUF_CAPACITY: usize = 16 * 1024;

enum State {
    Closed,
    Connecting(NetStream),
    Handshaking(MidHandshake<ClientHandshake<NetStream>>),
    Open(Box<WebSocket<NetStream>>),
}

/// A WebSocket client connection registered with the caller's `Poll`.
pub struct WsConn {
    endpoint: Endpoint,
    registry: Registry,
    token: Token,
    state: State,
    fd: std::os::fd::RawFd,
    frame_buf: Vec<u8>,
    mask_rng: u64,
    close_code: u16,
    config: WebSocketConfig,
    tx_stamps: bool,
    rx_frames: u64,
}

impl std::fmt::Debug for WsConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsConn")
            .field("url", &self.endpoint.url().as_str())
            .field("token", &self.token)
            .field("state", &self.state())
            .finish()
    }
}

impl WsConn {
    /// A closed connection to `endpoint` that will register its socket with
    /// `registry` under `token` (the registry is cloned: one `dup` at
    /// construction). Fails if the URL is not `ws`/`wss`.
    pub fn new(endpoint: Endpoint, registry: &Registry, token: Token) -> Result<WsConn, NetError> {
        if !endpoint.url().scheme().is_websocket() {
            return Err(NetError::Url(
                "websocket connection needs a ws:// or wss:// URL",
            ));
        }
        let mut h = RandomState::new().build_hasher();
        h.write_usize(token.0);
        Ok(WsConn {
            endpoint,
            registry: registry.try_clone()?,
            token,
            state: State::Closed,
            fd: -1,
            frame_buf: Vec::with_capacity(FRAME_BUF_CAPACITY),
            mask_rng: h.finish() | 1,
            close_code: 0,
            config: WebSocketConfig::default().read_buffer_size(READ_BUFFER_SIZE),
            tx_stamps: false,
            rx_frames: 0,
        })
    }

    /// Asks for kernel transmit timestamps ([`super::txstamp`]) on every
    /// connection made from now on. The owner must then call
    /// [`drain_tx_timestamps`](Self::drain_tx_timestamps) on `EPOLLERR`
    /// readiness and ask [`socket_failed`](Self::socket_failed) before taking
    /// that readiness for a dead connection.
    pub fn set_tx_timestamps(&mut self, on: bool) {
        self.tx_stamps = on;
    }

    /// The key the kernel's transmit stamp of the last byte sent so far will
    /// carry (`None` when stamps are off or bytes are still queued here).
    pub fn tx_key(&self) -> Option<u32> {
        match &self.state {
            State::Open(ws) => ws.get_ref().last_tx_key(),
            _ => None,
        }
    }

    /// Reads the queued transmit stamps, calling `f` for each.
    pub fn drain_tx_timestamps(
        &mut self,
        f: impl FnMut(super::txstamp::TxStamp),
    ) -> Result<usize, NetError> {
        match &mut self.state {
            State::Open(ws) => ws.get_mut().drain_tx_timestamps(f).map_err(|e| map_io(&e)),
            _ => Ok(0),
        }
    }

    /// Whether the open connection's socket holds an error (`SO_ERROR`).
    pub fn socket_failed(&mut self) -> bool {
        match &mut self.state {
            State::Open(ws) => ws.get_mut().take_socket_error().is_some(),
            _ => false,
        }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The mio token this connection registers under.
    pub fn token(&self) -> Token {
        self.token
    }

    /// Current state.
    pub fn state(&self) -> ConnState {
        match &self.state {
            State::Closed => ConnState::Closed,
            State::Connecting(_) => ConnState::Connecting,
            State::Handshaking(_) => ConnState::Handshaking,
            State::Open(_) => ConnState::Open,
        }
    }

    /// True when frames can be sent and received.
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open(_))
    }

    /// How many complete frames of any kind (text, binary, ping, pong,
    /// close) [`read_frames`](Self::read_frames) has received over the life
    /// of this value, across reconnects. A plain counter, no clock: an owner
    /// that wants to notice a silent peer compares it between its own timer
    /// checks (as [`ManagedWs`](crate::engine::conn::ManagedWs) does).
    #[inline]
    pub fn frames_received(&self) -> u64 {
        self.rx_frames
    }

    /// The close code of the last close frame received (0 if none).
    pub fn close_code(&self) -> u16 {
        self.close_code
    }

    /// Starts a non-blocking connect (drops any current connection first).
    pub fn start_connect(&mut self) -> Result<(), NetError> {
        self.drop_connection();
        self.close_code = 0;
        let mut s = self.endpoint.connect(&self.registry, self.token)?;
        if self.tx_stamps {
            s.want_tx_timestamps();
        }
        self.fd = s.raw_fd();
        self.state = State::Connecting(s);
        Ok(())
    }

    /// Advances the connect (TCP → TLS → WebSocket handshake) as far as the
    /// socket allows without blocking. Call it on every event for this token
    /// (or every loop iteration) until it returns `Open`. On error the
    /// connection is `Closed`.
    pub fn poll_connect(&mut self) -> Result<ConnState, NetError> {
        let st = std::mem::replace(&mut self.state, State::Closed);
        let hs = match st {
            State::Closed => return Ok(ConnState::Closed),
            State::Open(ws) => {
                self.state = State::Open(ws);
                return Ok(ConnState::Open);
            }
            State::Connecting(mut s) => match s.poll_tcp() {
                Ok(false) => {
                    self.state = State::Connecting(s);
                    return Ok(ConnState::Connecting);
                }
                Ok(true) => client_with_config(self.endpoint.url().as_str(), s, Some(self.config)),
                Err(e) => {
                    s.deregister(&self.registry);
                    return Err(e);
                }
            },
            State::Handshaking(mut mid) => {
                mid.get_mut().get_mut().rearm();
                mid.handshake()
            }
        };
        match hs {
            Ok((ws, _response)) => {
                self.state = State::Open(Box::new(ws));
                Ok(ConnState::Open)
            }
            Err(HandshakeError::Interrupted(mid)) => {
                self.state = State::Handshaking(mid);
                Ok(ConnState::Handshaking)
            }
            // The stream was dropped with the error; closing the fd removed
            // it from the epoll set.
            Err(HandshakeError::Failure(e)) => Err(map_handshake_err(e)),
        }
    }

    /// Start-up convenience: connects (if not already connecting) and blocks
    /// until open or `timeout` passes. Waits with `poll(2)` on this socket
    /// only, so events for other connections in the caller's `Poll` are not
    /// consumed.
    pub fn connect_blocking(&mut self, timeout: Duration) -> Result<(), NetError> {
        let deadline = Instant::now() + timeout;
        if matches!(self.state, State::Closed) {
            self.start_connect()?;
        }
        loop {
            let want_write = match self.poll_connect()? {
                ConnState::Open => return Ok(()),
                ConnState::Closed => return Err(NetError::NotOpen),
                ConnState::Connecting => true,
                ConnState::Handshaking => match &self.state {
                    State::Handshaking(mid) => mid.get_ref().get_ref().has_pending(),
                    _ => false,
                },
            };
            if let Err(e) = wait_fd(self.fd, want_write, deadline) {
                self.drop_connection();
                return Err(e);
            }
        }
    }

    /// Drains all complete frames until the socket would block, calling `f`
    /// with each text/binary payload; returns how many were delivered.
    /// Control frames are handled here (pings answered). On a fatal error the
    /// connection is `Closed` (frames delivered before the error were
    /// already handed to `f`).
    pub fn read_frames(&mut self, mut f: impl FnMut(&[u8])) -> Result<usize, NetError> {
        let State::Open(ws) = &mut self.state else {
            return Err(NetError::NotOpen);
        };
        ws.get_mut().rearm();
        let mut n = 0usize;
        let mut control = false;
        let err = loop {
            let msg = ws.read();
            if msg.is_ok() {
                self.rx_frames += 1;
            }
            match msg {
                Ok(Message::Text(t)) => {
                    f(t.as_bytes());
                    n += 1;
                }
                Ok(Message::Binary(b)) => {
                    f(&b);
                    n += 1;
                }
                Ok(Message::Ping(_)) => control = true,
                Ok(Message::Close(cf)) => {
                    self.close_code = cf.map_or(1005, |c| u16::from(c.code));
                    control = true;
                }
                Ok(Message::Pong(_)) | Ok(Message::Frame(_)) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    break None;
                }
                Err(e) => break Some(map_ws_err(e, self.close_code)),
            }
        };
        if let Some(e) = err {
            self.drop_connection();
            return Err(e);
        }
        if control {
            // Pong / close reply: tungstenite queued it; push it out.
            match ws.flush() {
                Ok(()) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    let e = map_ws_err(e, self.close_code);
                    self.drop_connection();
                    return Err(e);
                }
            }
        }
        Ok(n)
    }

    /// Sends one text frame holding `bytes` (must be UTF-8, e.g. JSON). The
    /// frame is fully queued on return and as much as the socket takes is
    /// already sent; if [`has_pending`](Self::has_pending) then says true,
    /// call [`flush_pending`](Self::flush_pending) later.
    pub fn send_text(&mut self, bytes: &[u8]) -> Result<(), NetError> {
        if std::str::from_utf8(bytes).is_err() {
            return Err(NetError::InvalidInput("text frame payload is not UTF-8"));
        }
        let State::Open(ws) = &mut self.state else {
            return Err(NetError::NotOpen);
        };
        if !ws.can_write() {
            return Err(NetError::Closed {
                code: self.close_code,
            });
        }
        // Move any queued pong/close reply into the transport first, so it
        // stays ahead of our frame.
        match ws.flush() {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                let e = map_ws_err(e, self.close_code);
                self.drop_connection();
                return Err(e);
            }
        }
        let mask = next_mask(&mut self.mask_rng);
        encode_client_frame(&mut self.frame_buf, OPCODE_TEXT, bytes, mask);
        if let Err(e) = ws.get_mut().write_message(&self.frame_buf) {
            self.drop_connection();
            return Err(e);
        }
        Ok(())
    }

    /// Writes back, unchanged, the pages [`send_text`](Self::send_text)
    /// writes before its `write`: the frame buffer's first 4 KiB and the
    /// mask generator ([`crate::redirty`]). No syscall, no allocation.
    pub fn redirty(&mut self) {
        crate::redirty::rewrite_buf(&mut self.frame_buf, 4096);
        crate::redirty::rewrite(&mut self.mask_rng);
    }

    /// True while bytes are queued that the socket has not yet taken.
    pub fn has_pending(&self) -> bool {
        match &self.state {
            State::Open(ws) => ws.get_ref().has_pending(),
            State::Connecting(s) => s.has_pending(),
            State::Handshaking(mid) => mid.get_ref().get_ref().has_pending(),
            State::Closed => false,
        }
    }

    /// Sends queued bytes; `Ok(true)` when nothing is left queued.
    pub fn flush_pending(&mut self) -> Result<bool, NetError> {
        let State::Open(ws) = &mut self.state else {
            return Ok(!self.has_pending());
        };
        match ws.get_mut().flush_out() {
            Ok(done) => Ok(done),
            Err(e) => {
                let e = map_io(&e);
                self.drop_connection();
                Err(e)
            }
        }
    }

    /// Sends `op_json` (e.g. [`BYBIT_PING`]) when `timer` is due at `now`;
    /// returns whether it sent.
    pub fn ping_if_due(
        &mut self,
        timer: &mut PingTimer,
        now: Instant,
        op_json: &[u8],
    ) -> Result<bool, NetError> {
        if !self.is_open() || !timer.due(now) {
            return Ok(false);
        }
        self.send_text(op_json)?;
        Ok(true)
    }

    /// Sends a close frame (code 1000), makes one attempt to flush it, and
    /// drops the socket. Never blocks. The connection is `Closed` afterwards.
    pub fn close(&mut self) {
        if let State::Open(ws) = &mut self.state {
            let _ = ws.close(Some(tungstenite::protocol::CloseFrame {
                code: CloseCode::Normal,
                reason: tungstenite::Utf8Bytes::from_static(""),
            }));
            let _ = ws.get_mut().flush_out();
        }
        self.drop_connection();
    }

    fn drop_connection(&mut self) {
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Closed => {}
            State::Connecting(mut s) => s.deregister(&self.registry),
            State::Handshaking(mut mid) => mid.get_mut().get_mut().deregister(&self.registry),
            State::Open(mut ws) => ws.get_mut().deregister(&self.registry),
        }
        self.fd = -1;
    }
}

/// Application heartbeat schedule (Bybit: `{"op":"ping"}` every 20 s).
#[derive(Debug, Clone, Copy)]
pub struct PingTimer {
    interval: Duration,
    next: Instant,
}

impl PingTimer {
    /// First ping due `interval` after `now`.
    pub fn new(interval: Duration, now: Instant) -> PingTimer {
        PingTimer {
            interval,
            next: now + interval,
        }
    }
    /// True (and re-armed for `now + interval`) when a ping is due.
    pub fn due(&mut self, now: Instant) -> bool {
        if now >= self.next {
            self.next = now + self.interval;
            true
        } else {
            false
        }
    }
    /// Re-arms from `now` (e.g. after a reconnect).
    pub fn reset(&mut self, now: Instant) {
        self.next = now + self.interval;
    }
    /// When the next ping is due.
    pub fn next_due(&self) -> Instant {
        self.next
    }
}

/// WebSocket text opcode.
pub const OPCODE_TEXT: u8 = 0x1;
/// WebSocket binary opcode.
pub const OPCODE_BINARY: u8 = 0x2;

/// Encodes one final, masked client frame (`opcode` | FIN, RFC 6455 §5.2)
/// into `buf` (cleared first; grows only if the frame exceeds its capacity).
pub fn encode_client_frame(buf: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    buf.clear();
    buf.push(0x80 | (opcode & 0x0f));
    let n = payload.len();
    if n < 126 {
        buf.push(0x80 | n as u8);
    } else if let Ok(n16) = u16::try_from(n) {
        buf.push(0x80 | 126);
        buf.extend_from_slice(&n16.to_be_bytes());
    } else {
        buf.push(0x80 | 127);
        buf.extend_from_slice(&(n as u64).to_be_bytes());
    }
    buf.extend_from_slice(&mask);
    let start = buf.len();
    buf.extend_from_slice(payload);
    apply_mask(&mut buf[start..], mask);
}

/// XORs `data` with the repeating 4-byte `mask`, starting at mask byte 0.
pub fn apply_mask(data: &mut [u8], mask: [u8; 4]) {
    let m = u32::from_ne_bytes(mask);
    let mut chunks = data.chunks_exact_mut(4);
    for c in &mut chunks {
        let w = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) ^ m;
        c.copy_from_slice(&w.to_ne_bytes());
    }
    for (b, k) in chunks.into_remainder().iter_mut().zip(mask) {
        *b ^= k;
    }
}

pub(super) fn next_mask(state: &mut u64) -> [u8; 4] {
    // xorshift64*
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
    ((r >> 32) as u32).to_ne_bytes()
}

fn map_handshake_err(e: tungstenite::Error) -> NetError {
    use tungstenite::Error as E;
    match e {
        E::Io(e) => map_io(&e),
        E::Http(_) => NetError::Handshake("server answered without 101 Switching Protocols"),
        E::HttpFormat(_) => NetError::Handshake("malformed handshake request"),
        E::Url(_) => NetError::Handshake("url rejected by tungstenite"),
        E::Protocol(_) => NetError::Handshake("invalid handshake response"),
        E::ConnectionClosed | E::AlreadyClosed => NetError::Closed { code: 1006 },
        _ => NetError::Handshake("handshake failed"),
    }
}

fn map_ws_err(e: tungstenite::Error, close_code: u16) -> NetError {
    use tungstenite::error::ProtocolError as P;
    use tungstenite::Error as E;
    match e {
        E::ConnectionClosed | E::AlreadyClosed => NetError::Closed {
            code: if close_code == 0 { 1006 } else { close_code },
        },
        E::Io(e) => map_io(&e),
        E::Protocol(P::ResetWithoutClosingHandshake) => NetError::Closed { code: 1006 },
        E::Protocol(_) => NetError::Protocol("websocket protocol violation"),
        E::Capacity(_) => NetError::Protocol("message exceeds the size limit"),
        E::Utf8(_) => NetError::Protocol("text frame is not UTF-8"),
        E::AttackAttempt => NetError::Protocol("attack attempt detected"),
        E::WriteBufferFull(_) => NetError::Protocol("write buffer full"),
        _ => NetError::Protocol("websocket error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode(frame: &[u8]) -> (u8, Vec<u8>) {
        let op = frame[0];
        let (len, mut i) = match frame[1] & 0x7f {
            126 => (u16::from_be_bytes([frame[2], frame[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(frame[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        assert!(frame[1] & 0x80 != 0, "client frames are masked");
        let mask = [frame[i], frame[i + 1], frame[i + 2], frame[i + 3]];
        i += 4;
        assert_eq!(frame.len(), i + len);
        let p = frame[i..]
            .iter()
            .enumerate()
            .map(|(j, b)| b ^ mask[j % 4])
            .collect();
        (op, p)
    }

    #[test]
    fn encodes_all_three_length_forms() {
        let mut buf = Vec::new();
        for n in [0usize, 1, 125, 126, 127, 65535, 65536, 70000] {
            let payload: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            encode_client_frame(&mut buf, OPCODE_TEXT, &payload, [1, 2, 3, 4]);
            let (op, p) = decode(&buf);
            assert_eq!(op, 0x81);
            assert_eq!(p, payload, "len {n}");
        }
    }

    #[test]
    fn ping_timer_fires_once_per_interval() {
        let t0 = Instant::now();
        let mut t = PingTimer::new(Duration::from_secs(20), t0);
        assert!(!t.due(t0 + Duration::from_secs(19)));
        assert!(t.due(t0 + Duration::from_secs(20)));
        assert!(!t.due(t0 + Duration::from_secs(21)));
        assert!(t.due(t0 + Duration::from_secs(40)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn mask_round_trips(payload in proptest::collection::vec(any::<u8>(), 0..300), mask in any::<[u8; 4]>()) {
            let mut buf = Vec::new();
            encode_client_frame(&mut buf, OPCODE_BINARY, &payload, mask);
            let (op, p) = decode(&buf);
            prop_assert_eq!(op, 0x82);
            prop_assert_eq!(p, payload);
        }
    }
}
