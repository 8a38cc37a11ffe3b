//! The measuring point: wire-to-wire reaction time from a public market message leaving the
//! simulator to the order request it caused arriving back.
//!
//! **Echo convention.** A client that wants its reactions measured puts the update id `u` of the
//! triggering orderbook message as a decimal after the **last** `-` of its WS-trade `reqId`, or of the
//! `orderLinkId` of a REST/WS order request (the `reqId` is tried first; a REST request may carry
//! it instead in an `X-Gapmm-Tag` header, tried before its `orderLinkId`). The text before the
//! **first** `-` names the variant the reaction is filed under (e.g. `echo-000017-12345` → variant
//! `echo`, `u = 12345`). Ids without a `-`, or without digits after the last `-`, are not measured.
//!
//! Stamps: the server stamps each public message carrying a `u` right after its first successful
//! write to a socket ([`MarketStamps::record`]) and each order request right after the `read` that
//! brought its bytes off the socket returned ([`ReadStamped`]); both stamps come from one [`Clock`] (quanta TSC, same thread). Attribution is by `u`
//! alone (the request carries nothing else), so measure with one orderbook topic subscribed (or use
//! the paced mode). When a `u` sequence starts again (a topic opened afresh after its last
//! subscriber left, or the restart fault) all earlier stamps are forgotten, so a reaction to the new
//! sequence is never timed from an old message that had the same `u`; reactions still in flight to
//! the old sequence then count as unattributed. A reaction is the first request a tick caused:
//! further requests carrying the same `u` under the same variant are counted as repeats, not
//! timed again. Histograms are in
//! nanoseconds, keyed `"{channel}/{variant}"` with channel `ws-trade` or `rest`.
//!
//! Contract: `record`/`react` allocate only when a new variant appears; no locks (owned by the
//! server thread). The echo client and [`tcp_pingpong`] run on their own threads and by default
//! block in socket reads (they sleep when idle); with [`EchoConfig::spin`] / [`PingPongCores::spin`]
//! they instead read non-blocking and busy-loop on `WouldBlock` (a core at 100 %, no wake-up:
//! benchmark-only, for comparing software work without the cost of waking a sleeping thread). The
//! echo client's per-message work (read, frame parse,
//! [`scan_u`], patch, one `write`) allocates nothing after warm-up (`tests/sim_echo_alloc.rs`);
//! its clock for the request timestamp is the wall clock ([`crate::time::wall_ms`]).

use crate::time::{Clock, Tsc};
use hdrhistogram::Histogram;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A stream that remembers when a `read` last returned bytes. The server
/// wraps each WebSocket's socket in one, so a request's "read" stamp is the
/// moment its bytes came off the socket (after TLS decryption when TLS is on),
/// before the WebSocket framing above it runs. A frame that took several
/// reads is stamped with the one that completed it; frames that arrived in
/// one read share its stamp. No allocation; one clock read per `read` that
/// returned bytes.
#[derive(Debug)]
pub struct ReadStamped<S> {
    inner: S,
    clock: Clock,
    last_read: Tsc,
}

impl<S> ReadStamped<S> {
    /// Wraps `inner`, stamping with `clock` (the server's clock).
    pub fn new(inner: S, clock: Clock) -> ReadStamped<S> {
        let last_read = clock.stamp();
        ReadStamped {
            inner,
            clock,
            last_read,
        }
    }

    /// When a `read` last returned bytes.
    pub fn last_read(&self) -> Tsc {
        self.last_read
    }

    /// The wrapped stream.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S: Read> Read for ReadStamped<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.last_read = self.clock.stamp();
        }
        Ok(n)
    }
}

impl<S: Write> Write for ReadStamped<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Splits an id by the echo convention into `(variant, u)`.
pub fn parse_echo_tag(id: &str) -> Option<(&str, u64)> {
    let last = id.rfind('-')?;
    let digits = id.get(last + 1..)?;
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let u = digits.parse().ok()?;
    let first = id.find('-')?;
    Some((id.get(..first)?, u))
}

const RING: usize = 1 << 16;

/// Write stamps of recent public messages, keyed by `u` (a ring of 65,536 entries).
///
/// A stamp belongs to the *generation* it was recorded in; [`MarketStamps::clear`] starts a new
/// generation (O(1)), after which older stamps are never matched. The server clears whenever an
/// orderbook `u` sequence starts again (a topic opened afresh, or the restart fault), because the
/// new sequence reuses `u` values whose old stamps would otherwise be kept as "first write".
pub struct MarketStamps {
    ring: Vec<Slot>,
    gen: u64,
}

#[derive(Clone, Copy)]
struct Slot {
    u: u64,
    gen: u64,
    at: Tsc,
}

const EMPTY: Slot = Slot {
    u: 0,
    gen: 0,
    at: Tsc(0),
};

impl Default for MarketStamps {
    fn default() -> Self {
        MarketStamps {
            ring: vec![EMPTY; RING],
            gen: 1,
        }
    }
}

impl MarketStamps {
    /// Records the first write of the message with update id `u` in this generation (later writes
    /// of the same `u` keep the first stamp).
    pub fn record(&mut self, u: u64, at: Tsc) {
        let gen = self.gen;
        if let Some(slot) = self.ring.get_mut((u as usize) & (RING - 1)) {
            if slot.u != u || slot.gen != gen || slot.at == Tsc(0) {
                *slot = Slot { u, gen, at };
            }
        }
    }

    /// The write stamp of `u` in this generation, if still in the ring.
    pub fn get(&self, u: u64) -> Option<Tsc> {
        self.ring
            .get((u as usize) & (RING - 1))
            .filter(|s| s.u == u && s.gen == self.gen && s.at != Tsc(0))
            .map(|s| s.at)
    }

    /// Forgets all stamps: a `u` sequence restarted, so its values repeat. O(1) (starts a new
    /// generation).
    pub fn clear(&mut self) {
        self.gen += 1;
    }
}

fn new_hist() -> Histogram<u64> {
    // 1 ns .. 60 s at 3 significant digits; these bounds are valid, so construction cannot fail.
    Histogram::new_with_bounds(1, 60_000_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

/// Reaction-time histograms per `"{channel}/{variant}"`, plus counters.
pub struct Reactions {
    clock: Clock,
    /// Stamps of outgoing market messages.
    pub stamps: MarketStamps,
    /// Per key: the histogram and the last `u` timed under it.
    hists: Vec<(String, Histogram<u64>, u64)>,
    /// Requests whose id followed the convention but whose `u` was not (or no longer) stamped.
    pub unattributed: u64,
    /// Requests for a tick already timed under the same key: a reaction is
    /// the first request a tick caused (one client sends both sides in one
    /// batch, another in two requests; both reacted once).
    pub repeats: u64,
}

impl Reactions {
    /// Uses `clock` for every stamp.
    pub fn new(clock: Clock) -> Reactions {
        Reactions {
            clock,
            stamps: MarketStamps::default(),
            hists: Vec::new(),
            unattributed: 0,
            repeats: 0,
        }
    }

    /// The clock all stamps come from.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Attributes a request read at `read_at` whose id is `id` on `channel`. Returns the reaction in ns.
    pub fn react(&mut self, channel: &str, id: &str, read_at: Tsc) -> Option<u64> {
        let (variant, u) = parse_echo_tag(id)?;
        let Some(sent) = self.stamps.get(u) else {
            self.unattributed += 1;
            return None;
        };
        let ns = self.clock.delta_ns(sent, read_at).max(1);
        let is_key = |k: &str| {
            k.len() == channel.len() + 1 + variant.len()
                && k.starts_with(channel)
                && k.ends_with(variant)
                && k.as_bytes().get(channel.len()) == Some(&b'/')
        };
        match self.hists.iter_mut().find(|(k, _, _)| is_key(k)) {
            Some((_, _, last)) if *last == u => {
                self.repeats += 1;
                return None;
            }
            Some((_, h, last)) => {
                h.saturating_record(ns);
                *last = u;
            }
            None => {
                let mut h = new_hist();
                h.saturating_record(ns);
                self.hists.push((format!("{channel}/{variant}"), h, u));
            }
        }
        Some(ns)
    }

    /// Copies of all histograms, sorted by key.
    pub fn snapshot(&self) -> Vec<(String, Histogram<u64>)> {
        let mut v: Vec<_> = self
            .hists
            .iter()
            .map(|(k, h, _)| (k.clone(), h.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Clears all histograms and counters (stamps are kept).
    pub fn reset(&mut self) {
        self.hists.clear();
        self.unattributed = 0;
        self.repeats = 0;
    }
}

/// One line of percentiles in µs: `name n=.. p50=.. p90=.. p99=.. p99.9=.. max=..`.
pub fn summary(name: &str, h: &Histogram<u64>) -> String {
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    format!(
        "{name}: n={} p50={:.1}us p90={:.1}us p99={:.1}us p99.9={:.1}us max={:.1}us",
        h.len(),
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        h.max() as f64 / 1000.0
    )
}

/// Where and how the two ends of [`tcp_pingpong`] run: a core to pin each end's thread to (`None`
/// = not pinned), and whether they sleep or spin while waiting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PingPongCores {
    /// The answering end (the simulator's role).
    pub server: Option<usize>,
    /// The end that sends first and times the round trip (the echo client's role).
    pub client: Option<usize>,
    /// Both ends use non-blocking sockets and busy-loop until a read completes, and the client
    /// busy-waits the `gap` instead of sleeping: no thread ever sleeps, so no round trip includes
    /// a wake-up (each end keeps a core at 100 %). Off = both ends block in `read` and the client
    /// sleeps the gap.
    pub spin: bool,
}

/// `read_exact` on a non-blocking socket: busy-loops on `WouldBlock` until `buf` is full.
fn spin_read_exact(s: &mut TcpStream, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match s.read(buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buf = buf.get_mut(n..).unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `write_all` on a non-blocking socket: busy-loops on `WouldBlock` until `buf` is written.
fn spin_write_all(s: &mut TcpStream, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match s.write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = buf.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One ping-pong end's socket I/O: blocking, or spinning on a non-blocking socket.
fn pp_read(s: &mut TcpStream, buf: &mut [u8], spin: bool) -> io::Result<()> {
    if spin {
        spin_read_exact(s, buf)
    } else {
        s.read_exact(buf)
    }
}

fn pp_write(s: &mut TcpStream, buf: &[u8], spin: bool) -> io::Result<()> {
    if spin {
        spin_write_all(s, buf)
    } else {
        s.write_all(buf)
    }
}

/// Round-trip times of [`tcp_pingpong`], in ns, from two stamp positions on the client.
#[derive(Debug, Clone)]
pub struct PingPong {
    /// From before the client's `write` to after its `read` of the answer.
    pub round_trip: Histogram<u64>,
    /// From after the client's `write` returned to after its `read` of the answer: the same stamp
    /// positions as the simulator's echo measurement (which stamps after its own write returned).
    pub after_write: Histogram<u64>,
}

fn pin_or_err(core: Option<usize>, who: &'static str) -> io::Result<()> {
    match core {
        Some(c) if !crate::engine::topology::pin_current(c) => Err(io::Error::other(format!(
            "could not pin the {who} thread to core {c}"
        ))),
        _ => Ok(()),
    }
}

/// Bare TCP ping-pong over loopback with the same sizes as the echo path: `out_len` bytes out,
/// `back_len` bytes back, `iters` round trips after `warmup`, one every `gap` (zero = back to back;
/// a gap lets both ends go idle between rounds as they do under the paced feed). By default both
/// ends block in `read` (they sleep like the simulator's epoll loop) and the client sleeps the gap;
/// with `cores.spin` neither end ever sleeps (see [`PingPongCores::spin`]). Both ends run on
/// threads of their own, pinned as `cores` says (the calling thread only waits).
pub fn tcp_pingpong(
    out_len: usize,
    back_len: usize,
    warmup: usize,
    iters: usize,
    gap: Duration,
    cores: PingPongCores,
) -> io::Result<PingPong> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let total = warmup + iters;
    let peer = std::thread::spawn(move || -> io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        s.set_nonblocking(cores.spin)?;
        // Pinned after accepting: a failure drops the socket, which ends the client too.
        pin_or_err(cores.server, "ping-pong server")?;
        let mut inb = vec![0u8; out_len];
        let back = vec![b'b'; back_len];
        for _ in 0..total {
            pp_read(&mut s, &mut inb, cores.spin)?;
            pp_write(&mut s, &back, cores.spin)?;
        }
        Ok(())
    });
    let client = std::thread::spawn(move || -> io::Result<PingPong> {
        let mut s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_nonblocking(cores.spin)?;
        // Pinned after connecting: a failure drops the socket, which ends the server end too.
        pin_or_err(cores.client, "ping-pong client")?;
        let clock = Clock::new();
        let out = vec![b'a'; out_len];
        let mut inb = vec![0u8; back_len];
        let mut round_trip = new_hist();
        let mut after_write = new_hist();
        for i in 0..total {
            if !gap.is_zero() {
                if cores.spin {
                    let until = std::time::Instant::now() + gap;
                    while std::time::Instant::now() < until {
                        std::hint::spin_loop();
                    }
                } else {
                    std::thread::sleep(gap);
                }
            }
            let t0 = clock.stamp();
            pp_write(&mut s, &out, cores.spin)?;
            let t1 = clock.stamp();
            pp_read(&mut s, &mut inb, cores.spin)?;
            let t2 = clock.stamp();
            if i >= warmup {
                round_trip.saturating_record(clock.delta_ns(t0, t2).max(1));
                after_write.saturating_record(clock.delta_ns(t1, t2).max(1));
            }
        }
        Ok(PingPong {
            round_trip,
            after_write,
        })
    });
    let res = client
        .join()
        .map_err(|_| io::Error::other("ping-pong client panicked"))?;
    let peer_res = peer
        .join()
        .map_err(|_| io::Error::other("ping-pong peer panicked"))?;
    let h = res?;
    peer_res?;
    Ok(h)
}

/// Configuration of the built-in echo client.
#[derive(Debug, Clone)]
pub struct EchoConfig {
    /// Category of the public stream (`spot` or `linear`).
    pub category: crate::ids::Category,
    /// Symbol to subscribe to (`orderbook.{depth}.{symbol}`) and to send orders for.
    pub symbol: String,
    /// Orderbook depth of the subscription.
    pub depth: u16,
    /// Core to pin the echo thread to (`None` = not pinned).
    pub core: Option<usize>,
    /// Benchmark-only: read the public socket non-blocking and busy-loop on `WouldBlock`
    /// (checking the stop flag) instead of blocking in `read`, so a market message never has to
    /// wake the thread; it keeps its core at 100 %. Off = block in `read` (50 ms timeout).
    pub spin: bool,
    /// Answer a market message only if this long has passed since the last answer (zero:
    /// answer every one), so the floor makes about as many requests as a client under a rate
    /// budget. The messages in between are read and skipped.
    pub min_gap: Duration,
}

/// Counters of the running echo client.
#[derive(Debug, Default)]
pub struct EchoStats {
    /// Market messages received.
    pub ticks: AtomicU64,
    /// Order requests sent.
    pub sent: AtomicU64,
    /// WS-trade replies received.
    pub replies: AtomicU64,
    lock: Mutex<()>,
    cv: Condvar,
}

impl EchoStats {
    fn reply_arrived(&self) {
        let _g = self.lock.lock();
        self.replies.fetch_add(1, Ordering::Release);
        self.cv.notify_all();
    }

    /// Blocks until at least `n` replies have arrived or `timeout` passes; returns the count.
    pub fn wait_replies(&self, n: u64, timeout: Duration) -> u64 {
        let deadline = std::time::Instant::now() + timeout;
        let mut g = match self.lock.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        loop {
            let have = self.replies.load(Ordering::Acquire);
            let now = std::time::Instant::now();
            if have >= n || now >= deadline {
                return have;
            }
            g = match self.cv.wait_timeout(g, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

/// A running echo client thread.
pub struct EchoClient {
    stop: Arc<AtomicBool>,
    /// Live counters.
    pub stats: Arc<EchoStats>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl std::fmt::Debug for EchoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoClient")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl EchoClient {
    /// Stops the thread and returns its result.
    pub fn stop(mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("echo client panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for EchoClient {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Finds the last `"u":<digits>` in a public frame (searching from the end: in Bybit's orderbook
/// messages `u` follows the levels, a few dozen bytes before the end).
pub fn scan_u(frame: &[u8]) -> Option<u64> {
    let pos = frame.windows(4).rposition(|w| w == b"\"u\":")?;
    let rest = frame.get(pos + 4..)?;
    let mut u: u64 = 0;
    let mut n = 0;
    for &b in rest.iter().take(20) {
        if !b.is_ascii_digit() {
            break;
        }
        u = u.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        n += 1;
    }
    (n > 0).then_some(u)
}

// ---------------------------------------------------------------------------------------------
// The echo client's minimal WebSocket: server frames parsed in place, one prebuilt client frame.

/// WebSocket opcodes the echo client understands.
pub mod opcode {
    /// Text frame.
    pub const TEXT: u8 = 0x1;
    /// Binary frame.
    pub const BINARY: u8 = 0x2;
    /// Close frame.
    pub const CLOSE: u8 = 0x8;
    /// Ping frame.
    pub const PING: u8 = 0x9;
    /// Pong frame.
    pub const PONG: u8 = 0xA;
}

/// Largest server frame payload the echo client accepts (16 MiB).
pub const MAX_FRAME: usize = 16 << 20;

/// Why a server frame was refused by the echo client's parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoFrameError {
    /// RSV bits set, but no extension was negotiated.
    Reserved,
    /// A server frame was masked (RFC 6455 §5.1 forbids it).
    Masked,
    /// An opcode other than text, binary, close, ping or pong (continuation included).
    Opcode(u8),
    /// A frame without FIN: the simulator never fragments messages, so none is expected.
    Fragmented,
    /// A control frame with more than 125 payload bytes.
    ControlTooLong,
    /// A declared payload over [`MAX_FRAME`] (or a 64-bit length with its top bit set).
    TooLong,
}

impl std::fmt::Display for EchoFrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EchoFrameError::Reserved => f.write_str("server frame has RSV bits set"),
            EchoFrameError::Masked => f.write_str("server frame is masked"),
            EchoFrameError::Opcode(o) => write!(f, "unexpected websocket opcode {o:#x}"),
            EchoFrameError::Fragmented => f.write_str("fragmented websocket message"),
            EchoFrameError::ControlTooLong => f.write_str("control frame over 125 bytes"),
            EchoFrameError::TooLong => f.write_str("websocket frame over the size limit"),
        }
    }
}

impl std::error::Error for EchoFrameError {}

/// The header of a server frame at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHead {
    /// Opcode (see [`opcode`]).
    pub opcode: u8,
    /// Bytes of header before the payload.
    pub header_len: usize,
    /// Payload bytes.
    pub payload_len: usize,
}

/// Parses the header of the unmasked server frame at the start of `buf`; `Ok(None)` while the
/// header is incomplete (the payload may still be incomplete when a head is returned).
pub fn parse_frame_head(buf: &[u8]) -> Result<Option<FrameHead>, EchoFrameError> {
    let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
        return Ok(None);
    };
    if b0 & 0x70 != 0 {
        return Err(EchoFrameError::Reserved);
    }
    if b1 & 0x80 != 0 {
        return Err(EchoFrameError::Masked);
    }
    let op = b0 & 0x0f;
    let control = match op {
        opcode::TEXT | opcode::BINARY => false,
        opcode::CLOSE | opcode::PING | opcode::PONG => true,
        other => return Err(EchoFrameError::Opcode(other)),
    };
    if b0 & 0x80 == 0 {
        return Err(EchoFrameError::Fragmented);
    }
    let (header_len, len) = match b1 & 0x7f {
        126 => {
            let Some(b) = buf.get(2..4) else {
                return Ok(None);
            };
            (4, b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
        }
        127 => {
            let Some(b) = buf.get(2..10) else {
                return Ok(None);
            };
            (10, b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
        }
        n => (2, u64::from(n)),
    };
    if control && len > 125 {
        return Err(EchoFrameError::ControlTooLong);
    }
    if len > MAX_FRAME as u64 {
        return Err(EchoFrameError::TooLong);
    }
    Ok(Some(FrameHead {
        opcode: op,
        header_len,
        payload_len: len as usize,
    }))
}

/// One complete server frame borrowed from a [`FrameReader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Opcode (see [`opcode`]).
    pub opcode: u8,
    /// Payload bytes.
    pub payload: &'a [u8],
}

/// Server frames from a byte stream, in one reused buffer: bytes are read with one plain `read`
/// into the free tail, and complete frames are handed out in place (any number per read; a frame
/// split over reads waits for its rest). The buffer grows only for a frame larger than it (up to
/// [`MAX_FRAME`]); otherwise no allocation.
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl FrameReader {
    /// A reader with a `capacity`-byte buffer (at least 64).
    pub fn new(capacity: usize) -> FrameReader {
        FrameReader {
            buf: vec![0; capacity.max(64)],
            start: 0,
            end: 0,
        }
    }

    /// Bytes held that are not yet handed out as frames.
    pub fn pending(&self) -> usize {
        self.end - self.start
    }

    /// Makes room for at least the rest of the pending frame (or a header), and for at least one
    /// more byte, at the tail.
    fn make_room(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        let need = match self.buf.get(self.start..self.end).map(parse_frame_head) {
            Some(Ok(Some(h))) => h.header_len + h.payload_len,
            _ => 14,
        };
        if self.buf.len() - self.start < need || self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.buf.len() < need {
                self.buf.resize(need, 0);
            }
            if self.end == self.buf.len() {
                let grown = self.buf.len() * 2;
                self.buf.resize(grown, 0);
            }
        }
    }

    /// Appends `bytes` (e.g. what followed the handshake response, or a test's chunks).
    pub fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            self.make_room();
            let Some(free) = self.buf.get_mut(self.end..) else {
                return;
            };
            let n = free.len().min(bytes.len());
            if let (Some(dst), Some(src)) = (free.get_mut(..n), bytes.get(..n)) {
                dst.copy_from_slice(src);
            }
            self.end += n;
            bytes = bytes.get(n..).unwrap_or_default();
        }
    }

    /// One `read` from `r` into the free tail; returns its result (0 = end of stream).
    pub fn read_from(&mut self, r: &mut impl Read) -> io::Result<usize> {
        self.make_room();
        let free = self.buf.get_mut(self.end..).unwrap_or_default();
        let n = r.read(free)?;
        self.end += n.min(free.len());
        Ok(n)
    }

    /// The next complete frame, if one is buffered. An error leaves the reader unchanged.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, EchoFrameError> {
        let held = self.buf.get(self.start..self.end).unwrap_or_default();
        let Some(h) = parse_frame_head(held)? else {
            return Ok(None);
        };
        let total = h.header_len + h.payload_len;
        let Some(payload) = held.get(h.header_len..total) else {
            return Ok(None);
        };
        self.start += total;
        Ok(Some(Frame {
            opcode: h.opcode,
            payload,
        }))
    }
}

/// The mask key of every client frame the echo client sends (fixed: the simulator does not care,
/// and a fixed key lets the request be masked once and only its changing digits re-masked).
const MASK: [u8; 4] = [0x5a, 0xc3, 0x2e, 0x91];

/// Appends a masked client frame (FIN set) with `payload` to `out`.
pub fn put_client_frame(out: &mut Vec<u8>, op: u8, payload: &[u8]) {
    out.push(0x80 | (op & 0x0f));
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&MASK);
    out.extend(
        payload
            .iter()
            .zip(MASK.iter().cycle())
            .map(|(&b, &k)| b ^ k),
    );
}

/// The echo client drains its WS-trade replies after this many requests (and when the feed idles).
const DRAIN_EVERY: u32 = 16;

/// How long the public feed must be quiet before the echo client drains its replies (also the
/// blocking read's timeout, so the thread notices [`EchoClient::stop`]).
const IDLE: Duration = Duration::from_millis(50);

/// Digits in the request's order counter `n`, update id `u` and timestamp fields.
const N_DIGITS: usize = 11;
const U_DIGITS: usize = 19;
const TS_DIGITS: usize = 13;

/// The echo client's prebuilt `order.cancel` request frame: masked once, then only the digits of
/// `n`, `u` (both in `reqId` and `orderLinkId`, `echo-{n:011}-{u:019}`: 36 characters, Bybit's
/// `reqId` limit) and the header timestamp are patched (already masked) in place.
#[derive(Debug, Clone)]
pub struct EchoRequest {
    frame: Vec<u8>,
    payload_at: usize,
    n_at: [usize; 2],
    u_at: [usize; 2],
    ts_at: usize,
}

impl EchoRequest {
    /// Builds the frame for `category`/`symbol` (with zero digits).
    pub fn new(category: &str, symbol: &str) -> EchoRequest {
        let zeros = |k: usize| "0".repeat(k);
        let id = format!("echo-{}-{}", zeros(N_DIGITS), zeros(U_DIGITS));
        let head = r#"{"reqId":""#;
        let mid = r#"","header":{"X-BAPI-TIMESTAMP":""#;
        let tail0 = format!(
            r#""}},"op":"order.cancel","args":[{{"category":"{category}","symbol":"{symbol}","orderLinkId":""#
        );
        let text = format!(
            "{head}{id}{mid}{ts}{tail0}{id}\"}}]}}",
            ts = zeros(TS_DIGITS)
        );
        let id1 = head.len();
        let ts = id1 + id.len() + mid.len();
        let id2 = ts + TS_DIGITS + tail0.len();
        let mut frame = Vec::with_capacity(text.len() + 14);
        put_client_frame(&mut frame, opcode::TEXT, text.as_bytes());
        let payload_at = frame.len() - text.len();
        let n_off = "echo-".len();
        let u_off = n_off + N_DIGITS + 1;
        EchoRequest {
            frame,
            payload_at,
            n_at: [id1 + n_off, id2 + n_off],
            u_at: [id1 + u_off, id2 + u_off],
            ts_at: ts,
        }
    }

    /// Writes `v`'s last `width` decimal digits, zero-padded and masked, at payload offset `at`.
    fn put_digits(&mut self, at: usize, width: usize, mut v: u64) {
        for i in (0..width).rev() {
            let d = (v % 10) as u8;
            v /= 10;
            let off = at + i;
            if let Some(b) = self.frame.get_mut(self.payload_at + off) {
                *b = (b'0' + d) ^ MASK[off % 4];
            }
        }
    }

    /// Sets the order counter `n` (modulo 10¹¹), the update id `u` and the timestamp (ms). Returns
    /// false, changing nothing, if `u` does not fit the 19 digits the echo convention parses.
    pub fn set(&mut self, n: u64, u: u64, ts_ms: u64) -> bool {
        if u > 9_999_999_999_999_999_999 {
            return false;
        }
        let n = n % 100_000_000_000;
        for k in 0..2 {
            let (na, ua) = (self.n_at[k], self.u_at[k]);
            self.put_digits(na, N_DIGITS, n);
            self.put_digits(ua, U_DIGITS, u);
        }
        self.put_digits(self.ts_at, TS_DIGITS, ts_ms);
        true
    }

    /// The whole masked frame, ready for one `write`.
    pub fn frame(&self) -> &[u8] {
        &self.frame
    }
}

/// The RFC 6455 example key and its accept value (the echo client's handshake is fixed too).
const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const WS_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Connects and upgrades to a WebSocket at `path`; returns the stream (blocking, 5 s read timeout)
/// and a reader holding whatever followed the handshake response.
fn ws_connect(addr: SocketAddr, path: &str, cap: usize) -> io::Result<(TcpStream, FrameReader)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes())?;
    let mut got: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let end = loop {
        if let Some(p) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if got.len() > 16 * 1024 {
            return Err(io::Error::other(format!(
                "ws handshake to {path}: response head too long"
            )));
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::other(format!(
                "ws handshake to {path}: connection closed"
            )));
        }
        got.extend_from_slice(chunk.get(..n).unwrap_or_default());
    };
    let head = String::from_utf8_lossy(got.get(..end).unwrap_or_default()).to_string();
    if !head.starts_with("HTTP/1.1 101") || !head.contains(WS_ACCEPT) {
        return Err(io::Error::other(format!(
            "ws handshake to {path} refused: {}",
            head.lines().next().unwrap_or("")
        )));
    }
    let mut rd = FrameReader::new(cap);
    rd.push(got.get(end..).unwrap_or_default());
    Ok((s, rd))
}

fn send_frame(s: &mut TcpStream, op: u8, payload: &[u8]) -> io::Result<()> {
    let mut f = Vec::with_capacity(payload.len() + 14);
    put_client_frame(&mut f, op, payload);
    s.write_all(&f)
}

fn frame_err(e: EchoFrameError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Reads (blocking, with the stream's timeout) until a text frame arrives; returns it.
fn read_text_blocking(s: &mut TcpStream, rd: &mut FrameReader) -> io::Result<String> {
    loop {
        while let Some(f) = rd.next_frame().map_err(frame_err)? {
            match f.opcode {
                opcode::TEXT | opcode::BINARY => {
                    return Ok(String::from_utf8_lossy(f.payload).to_string())
                }
                opcode::CLOSE => return Err(io::ErrorKind::ConnectionAborted.into()),
                _ => {}
            }
        }
        if rd.read_from(s)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// Answers a ping with a pong (masked, payload echoed) from a reused buffer.
fn pong(s: &mut TcpStream, payload: &[u8], scratch: &mut Vec<u8>) -> io::Result<()> {
    scratch.clear();
    put_client_frame(scratch, opcode::PONG, payload);
    s.write_all(scratch)
}

/// Drains the (non-blocking) trade connection: counts every reply, answers pings. Returns false
/// when the server closed it.
fn drain_replies(
    s: &mut TcpStream,
    rd: &mut FrameReader,
    stats: &EchoStats,
    scratch: &mut Vec<u8>,
) -> io::Result<bool> {
    loop {
        while let Some(f) = rd.next_frame().map_err(frame_err)? {
            match f.opcode {
                opcode::TEXT | opcode::BINARY => stats.reply_arrived(),
                opcode::CLOSE => return Ok(false),
                opcode::PING => pong(s, f.payload, scratch)?,
                _ => {}
            }
        }
        match rd.read_from(s) {
            Ok(0) => return Ok(false),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes the whole request on the non-blocking trade connection with as few `write`s as the
/// kernel allows (one, unless its buffer is full; then replies are drained while waiting).
fn write_request(
    s: &mut TcpStream,
    frame: &[u8],
    rd: &mut FrameReader,
    stats: &EchoStats,
    scratch: &mut Vec<u8>,
) -> io::Result<()> {
    let mut off = 0;
    while let Some(rest) = frame.get(off..).filter(|r| !r.is_empty()) {
        match s.write(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => off += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !drain_replies(s, rd, stats, scratch)? {
                    return Err(io::ErrorKind::ConnectionAborted.into());
                }
                std::thread::yield_now();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Starts the echo client against a plain-TCP simulator at `addr`: it authenticates a `/v5/trade`
/// connection, subscribes `orderbook.{depth}.{symbol}` and answers every market message with an
/// `order.cancel` whose `reqId` and `orderLinkId` are `echo-{n}-{u}` (zero-padded to 11 and 19
/// digits). Cancel is used so the exchange's state does not grow.
///
/// The answering loop is the loopback floor: public frames are read with one plain `read` into a
/// fixed buffer and parsed in place (frame header, then [`scan_u`]); the request is one prebuilt,
/// pre-masked frame ([`EchoRequest`]) whose digits are patched and which is sent with one `write`
/// on the raw socket. Replies are drained without blocking every 16 requests and whenever the feed
/// is idle for 50 ms, so reading them is not on the tick-to-request path. No allocation per
/// message after warm-up (the buffers grow only for a frame larger than any seen before). The
/// thread blocks in `read` on the public socket (50 ms timeout, to notice [`EchoClient::stop`]);
/// with [`EchoConfig::spin`] it reads that socket non-blocking and busy-loops instead (checking the
/// stop flag on every pass and draining replies after each 50 ms without a market message).
pub fn start_echo(
    addr: SocketAddr,
    api_key: &str,
    api_secret: &str,
    cfg: &EchoConfig,
) -> io::Result<EchoClient> {
    let (mut trade, mut trade_rd) = ws_connect(addr, "/v5/trade", 16 * 1024)?;
    let expires = crate::time::wall_ms().0 + 10_000;
    let sig = super::auth::sign_ws(api_secret, expires);
    let auth = format!(r#"{{"op":"auth","args":["{api_key}",{expires},"{sig}"]}}"#);
    send_frame(&mut trade, opcode::TEXT, auth.as_bytes())?;
    let reply = read_text_blocking(&mut trade, &mut trade_rd)?;
    if !reply.contains("\"retCode\":0") {
        return Err(io::Error::other(format!(
            "echo client auth failed: {reply}"
        )));
    }
    let cat = cfg.category.as_str();
    let (mut public, mut public_rd) = ws_connect(addr, &format!("/v5/public/{cat}"), 256 * 1024)?;
    let sub = format!(
        r#"{{"op":"subscribe","req_id":"echo","args":["orderbook.{}.{}"]}}"#,
        cfg.depth, cfg.symbol
    );
    send_frame(&mut public, opcode::TEXT, sub.as_bytes())?;
    public.set_read_timeout(Some(IDLE))?;
    public.set_nonblocking(cfg.spin)?;
    trade.set_nonblocking(true)?;
    let mut req = EchoRequest::new(cat, &cfg.symbol);
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(EchoStats::default());
    let (stop2, stats2) = (stop.clone(), stats.clone());
    let core = cfg.core;
    let spin = cfg.spin;
    let min_gap = cfg.min_gap;
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<io::Result<()>>(1);
    let thread =
        std::thread::Builder::new()
            .name("sim-echo".into())
            .spawn(move || -> io::Result<()> {
                let pinned = pin_or_err(core, "echo client");
                let failed = pinned.is_err();
                let _ = ready_tx.send(pinned);
                if failed {
                    return Ok(());
                }
                let mut n: u64 = 0;
                let mut scratch: Vec<u8> = Vec::with_capacity(256);
                let mut open = true;
                let mut since_drain = 0u32;
                // Spinning: when the feed went quiet (`None` while messages flow).
                let mut idle_since: Option<std::time::Instant> = None;
                let mut next_answer = std::time::Instant::now();
                while open && !stop2.load(Ordering::Acquire) {
                    while let Some(f) = public_rd.next_frame().map_err(frame_err)? {
                        match f.opcode {
                            opcode::TEXT | opcode::BINARY => {
                                let Some(u) = scan_u(f.payload) else { continue };
                                stats2.ticks.fetch_add(1, Ordering::Relaxed);
                                if !min_gap.is_zero() {
                                    let now = std::time::Instant::now();
                                    if now < next_answer {
                                        continue;
                                    }
                                    next_answer = now + min_gap;
                                }
                                n += 1;
                                if !req.set(n, u, crate::time::wall_ms().0) {
                                    continue;
                                }
                                write_request(
                                    &mut trade,
                                    req.frame(),
                                    &mut trade_rd,
                                    &stats2,
                                    &mut scratch,
                                )?;
                                stats2.sent.fetch_add(1, Ordering::Relaxed);
                                since_drain += 1;
                                if since_drain >= DRAIN_EVERY {
                                    since_drain = 0;
                                    open = drain_replies(
                                        &mut trade,
                                        &mut trade_rd,
                                        &stats2,
                                        &mut scratch,
                                    )?;
                                }
                            }
                            opcode::CLOSE => open = false,
                            opcode::PING => pong(&mut public, f.payload, &mut scratch)?,
                            _ => {}
                        }
                        if !open {
                            break;
                        }
                    }
                    if !open {
                        break;
                    }
                    match public_rd.read_from(&mut public) {
                        Ok(0) => open = false,
                        Ok(_) => idle_since = None,
                        Err(e) if spin && e.kind() == io::ErrorKind::WouldBlock => {
                            // Nothing yet: spin; drain the replies after each idle 50 ms, as the
                            // blocking read's timeout does.
                            let now = std::time::Instant::now();
                            match idle_since {
                                None => idle_since = Some(now),
                                Some(t) if now.duration_since(t) >= IDLE => {
                                    idle_since = Some(now);
                                    since_drain = 0;
                                    open = drain_replies(
                                        &mut trade,
                                        &mut trade_rd,
                                        &stats2,
                                        &mut scratch,
                                    )?;
                                }
                                Some(_) => std::hint::spin_loop(),
                            }
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                            ) =>
                        {
                            // The feed is idle: collect the replies now.
                            since_drain = 0;
                            open = drain_replies(&mut trade, &mut trade_rd, &stats2, &mut scratch)?;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                if open {
                    let _ = send_frame(&mut public, opcode::CLOSE, &[]);
                    let _ = send_frame(&mut trade, opcode::CLOSE, &[]);
                }
                Ok(())
            })?;
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(io::Error::other("echo client thread ended at start")),
    }
    Ok(EchoClient {
        stop,
        stats,
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Hands out its chunks one `read` at a time, then `WouldBlock`.
    struct Chunks(Vec<&'static [u8]>);

    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let c = self.0.remove(0);
            buf[..c.len()].copy_from_slice(c);
            Ok(c.len())
        }
    }

    #[test]
    fn read_stamp_moves_only_when_bytes_arrive() {
        let clock = Clock::new();
        let mut s = ReadStamped::new(Chunks(vec![b"ab", b"", b"c"]), clock.clone());
        let mut buf = [0u8; 8];
        let t0 = s.last_read();
        let before = clock.stamp();
        assert_eq!(s.read(&mut buf).unwrap(), 2);
        let t1 = s.last_read();
        assert!(t1 >= before && t1 > t0, "a read with bytes stamps");
        // A zero-byte read (end of stream) and a WouldBlock keep the stamp.
        assert_eq!(s.read(&mut buf).unwrap(), 0);
        assert_eq!(s.last_read(), t1);
        assert_eq!(s.read(&mut buf).unwrap(), 1);
        let t2 = s.last_read();
        assert!(t2 >= t1);
        assert!(s.read(&mut buf).is_err());
        assert_eq!(s.last_read(), t2);
    }

    #[test]
    fn echo_tag_convention() {
        assert_eq!(parse_echo_tag("echo-17-12345"), Some(("echo", 12345)));
        assert_eq!(parse_echo_tag("mm-a-b-99"), Some(("mm", 99)));
        assert_eq!(parse_echo_tag("x-"), None);
        assert_eq!(parse_echo_tag("nodash"), None);
        assert_eq!(parse_echo_tag("a-12x"), None);
        assert_eq!(parse_echo_tag("a-99999999999999999999"), None);
    }

    #[test]
    fn reaction_is_attributed_to_the_stamped_u() {
        let clock = Clock::new();
        let mut r = Reactions::new(clock.clone());
        let t0 = clock.stamp();
        r.stamps.record(42, t0);
        r.stamps.record(42, Tsc(t0.0 + 1_000_000)); // a later write of the same u keeps the first stamp
        let later = Tsc(t0.0 + 10_000);
        let ns = r.react("ws-trade", "echo-1-42", later).unwrap();
        assert_eq!(ns, clock.delta_ns(t0, later).max(1));
        assert_eq!(r.react("ws-trade", "echo-2-43", later), None);
        assert_eq!(r.unattributed, 1);
        assert_eq!(r.react("ws-trade", "plain", later), None);
        assert_eq!(r.unattributed, 1);
        let snap = r.snapshot();
        assert_eq!(snap.len(), 1);
        assert_eq!(snap[0].0, "ws-trade/echo");
        assert_eq!(snap[0].1.len(), 1);
        r.react("rest", "echo-3-42", later);
        assert_eq!(r.snapshot().len(), 2);
        // A second request for tick 42 under the same key is a repeat, not
        // a second reaction; another variant's first request for it counts.
        assert_eq!(r.react("ws-trade", "echo-4-42", later), None);
        assert_eq!((r.repeats, r.snapshot()[1].1.len()), (1, 1));
        assert!(r.react("ws-trade", "other-1-42", later).is_some());
        r.reset();
        assert_eq!((r.repeats, r.unattributed), (0, 0));
    }

    #[test]
    fn cleared_stamps_are_never_matched_and_a_new_sequence_stamps_afresh() {
        let mut s = MarketStamps::default();
        s.record(1050, Tsc(100));
        s.record(1051, Tsc(110));
        s.clear();
        assert_eq!(s.get(1050), None);
        assert_eq!(s.get(1051), None);
        // The new sequence's first write of 1050 is its stamp, not the old one.
        s.record(1050, Tsc(900));
        s.record(1050, Tsc(950));
        assert_eq!(s.get(1050), Some(Tsc(900)));
        assert_eq!(s.get(1051), None);
    }

    #[test]
    fn scan_u_finds_the_update_id() {
        assert_eq!(
            scan_u(br#"{"data":{"s":"X","b":[],"u":18521288,"seq":1}}"#),
            Some(18521288)
        );
        assert_eq!(scan_u(br#"{"data":{}}"#), None);
    }

    #[test]
    fn scan_u_reads_the_u_of_a_simulator_book_message() {
        let step = |s| crate::units::Step::parse(s).unwrap();
        let mut out = Vec::new();
        let m = crate::sim::wire::BookMsg {
            topic: b"orderbook.50.BTCUSDT",
            symbol: b"BTCUSDT",
            snapshot: false,
            ts: 1,
            cts: 2,
            u: 987_654_321,
            seq: 5,
            tick: step("0.1"),
            lot: step("0.001"),
        };
        crate::sim::wire::put_book_msg(&mut out, &m, &[(600_000, 3)], &[(600_010, 4)]);
        assert_eq!(scan_u(&out), Some(987_654_321));
        // The last occurrence wins.
        assert_eq!(scan_u(br#"{"u":1,"x":{"u":2}}"#), Some(2));
    }

    #[test]
    fn tcp_pingpong_records_one_sample_per_round_trip() {
        let pp = tcp_pingpong(100, 150, 5, 40, Duration::ZERO, PingPongCores::default()).unwrap();
        assert_eq!(pp.round_trip.len(), 40);
        assert_eq!(pp.after_write.len(), 40);
        assert!(pp.after_write.min() >= 1);
        // Each sample from after the write is part of the same round trip.
        assert!(pp.after_write.value_at_quantile(0.5) <= pp.round_trip.value_at_quantile(0.5));
    }

    #[test]
    fn spinning_tcp_pingpong_records_one_sample_per_round_trip() {
        let cores = PingPongCores {
            spin: true,
            ..PingPongCores::default()
        };
        // Paced, so the client's busy-waited gap is exercised too.
        let pp = tcp_pingpong(100, 150, 5, 40, Duration::from_micros(50), cores).unwrap();
        assert_eq!(pp.round_trip.len(), 40);
        assert_eq!(pp.after_write.len(), 40);
        assert!(pp.after_write.min() >= 1);
        assert!(pp.after_write.value_at_quantile(0.5) <= pp.round_trip.value_at_quantile(0.5));
        // Sizes far above a socket buffer: writes and reads complete only in parts.
        let big = tcp_pingpong(6 << 20, 5 << 20, 0, 3, Duration::ZERO, cores).unwrap();
        assert_eq!(big.round_trip.len(), 3);
    }

    #[test]
    fn spin_read_exact_assembles_partial_reads_in_order_and_reports_eof() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let writer = std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            for c in sent.chunks(1_000) {
                s.write_all(c).unwrap();
            }
        });
        let (mut s, _) = listener.accept().unwrap();
        s.set_nonblocking(true).unwrap();
        let mut got = vec![0u8; data.len()];
        spin_read_exact(&mut s, &mut got).unwrap();
        assert!(got == data, "bytes arrive whole and in order");
        writer.join().unwrap();
        let mut more = [0u8; 1];
        let e = spin_read_exact(&mut s, &mut more).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    /// An unmasked server frame with FIN set.
    fn server_frame(op: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x80 | op];
        let len = payload.len();
        if len < 126 {
            f.push(len as u8);
        } else if len <= 0xffff {
            f.push(126);
            f.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            f.push(127);
            f.extend_from_slice(&(len as u64).to_be_bytes());
        }
        f.extend_from_slice(payload);
        f
    }

    fn drain(rd: &mut FrameReader, got: &mut Vec<(u8, Vec<u8>)>) {
        while let Some(f) = rd.next_frame().unwrap() {
            got.push((f.opcode, f.payload.to_vec()));
        }
    }

    fn sample_frames() -> Vec<(u8, Vec<u8>)> {
        vec![
            (
                opcode::TEXT,
                br#"{"success":true,"op":"subscribe"}"#.to_vec(),
            ),
            (opcode::TEXT, vec![b'x'; 300]),
            (opcode::BINARY, vec![7; 70_000]),
            (opcode::PING, b"hi".to_vec()),
            (opcode::TEXT, Vec::new()),
            (
                opcode::TEXT,
                br#"{"data":{"b":[],"a":[],"u":42,"seq":1},"cts":1}"#.to_vec(),
            ),
        ]
    }

    #[test]
    fn frame_reader_reassembles_frames_split_at_any_chunk_size() {
        let frames = sample_frames();
        let bytes: Vec<u8> = frames
            .iter()
            .flat_map(|(op, p)| server_frame(*op, p))
            .collect();
        for chunk in [1, 2, 3, 5, 13, 126, 1000, 4096, bytes.len()] {
            // A small buffer, so compaction and growth both happen.
            let mut rd = FrameReader::new(64);
            let mut got = Vec::new();
            for c in bytes.chunks(chunk) {
                rd.push(c);
                drain(&mut rd, &mut got);
            }
            assert_eq!(got, frames, "chunk {chunk}");
            assert_eq!(rd.pending(), 0);
        }
    }

    /// A reader that returns at most `chunk` bytes per `read`.
    struct Chunked<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            let n = self.chunk.min(b.len()).min(self.data.len());
            b[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn frame_reader_reads_several_frames_per_read_and_split_frames() {
        let frames = sample_frames();
        let bytes: Vec<u8> = frames
            .iter()
            .flat_map(|(op, p)| server_frame(*op, p))
            .collect();
        for chunk in [7, 100, 777, 65_536, bytes.len()] {
            let mut src = Chunked {
                data: &bytes,
                chunk,
            };
            let mut rd = FrameReader::new(1024);
            let mut got = Vec::new();
            while rd.read_from(&mut src).unwrap() > 0 {
                drain(&mut rd, &mut got);
            }
            assert_eq!(got, frames, "chunk {chunk}");
        }
        // Many small frames arriving in one read come out one by one, in order.
        let many: Vec<u8> = (0..50u8)
            .flat_map(|i| server_frame(opcode::TEXT, &[i]))
            .collect();
        let mut rd = FrameReader::new(1024);
        let n = rd
            .read_from(&mut Chunked {
                data: &many,
                chunk: many.len(),
            })
            .unwrap();
        assert_eq!(n, many.len(), "one read");
        let mut got = Vec::new();
        drain(&mut rd, &mut got);
        let want: Vec<_> = (0..50u8).map(|i| (opcode::TEXT, vec![i])).collect();
        assert_eq!(got.len(), 50);
        assert_eq!(got, want);
    }

    #[test]
    fn bad_server_frames_are_refused_without_consuming_anything() {
        let cases: [(&[u8], EchoFrameError); 8] = [
            (&[0x81, 0x81, 0, 0, 0, 0, b'a'], EchoFrameError::Masked),
            (&[0xc1, 0x01, b'a'], EchoFrameError::Reserved),
            (&[0x83, 0x00], EchoFrameError::Opcode(3)),
            (&[0x80, 0x00], EchoFrameError::Opcode(0)),
            (&[0x01, 0x01, b'a'], EchoFrameError::Fragmented),
            (&[0x89, 126, 0, 126], EchoFrameError::ControlTooLong),
            (
                &[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0],
                EchoFrameError::TooLong,
            ),
            (
                &[0x82, 127, 0, 0, 0, 0, 2, 0, 0, 0],
                EchoFrameError::TooLong,
            ),
        ];
        for (bytes, want) in cases {
            let mut rd = FrameReader::new(64);
            rd.push(bytes);
            assert_eq!(rd.next_frame(), Err(want), "{bytes:?}");
            assert_eq!(rd.pending(), bytes.len(), "nothing consumed");
            assert_eq!(rd.next_frame(), Err(want), "still refused");
            assert!(!want.to_string().is_empty());
        }
        // Incomplete headers and payloads just wait.
        for part in [&[0x81][..], &[0x81, 126, 0], &[0x81, 5, b'a']] {
            let mut rd = FrameReader::new(64);
            rd.push(part);
            assert_eq!(rd.next_frame(), Ok(None));
        }
    }

    #[test]
    fn the_prebuilt_request_is_a_valid_masked_frame_with_patched_ids() {
        let mut r = EchoRequest::new("linear", "BTCUSDT");
        assert!(r.set(17, 12_345, 1_764_000_000_000));
        let expect = r#"{"reqId":"echo-00000000017-0000000000000012345","header":{"X-BAPI-TIMESTAMP":"1764000000000"},"op":"order.cancel","args":[{"category":"linear","symbol":"BTCUSDT","orderLinkId":"echo-00000000017-0000000000000012345"}]}"#;
        let decode = |frame: &[u8]| -> String {
            let mut ws = tungstenite::WebSocket::from_raw_socket(
                io::Cursor::new(frame.to_vec()),
                tungstenite::protocol::Role::Server,
                None,
            );
            match ws.read().unwrap() {
                tungstenite::Message::Text(t) => t.as_str().to_string(),
                other => panic!("not text: {other:?}"),
            }
        };
        assert_eq!(decode(r.frame()), expect);
        let v: serde_json::Value = serde_json::from_str(expect).unwrap();
        let rid = v["reqId"].as_str().unwrap();
        assert_eq!(rid.len(), 36, "Bybit's reqId limit");
        assert_eq!(parse_echo_tag(rid), Some(("echo", 12_345)));
        assert_eq!(v["args"][0]["orderLinkId"], rid);
        // Re-patching replaces every digit; an unencodable u changes nothing.
        assert!(r.set(
            100_000_000_001,
            9_999_999_999_999_999_999,
            1_764_000_000_123
        ));
        let text = decode(r.frame());
        assert!(text.contains(r#""reqId":"echo-00000000001-9999999999999999999""#));
        assert!(text.contains(r#""X-BAPI-TIMESTAMP":"1764000000123""#));
        let before = r.frame().to_vec();
        assert!(!r.set(1, u64::MAX, 1));
        assert_eq!(r.frame(), &before[..]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn tags_and_frames_never_panic(s in ".{0,50}", b in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = parse_echo_tag(&s);
            let _ = scan_u(&b);
        }

        #[test]
        fn frame_reader_never_panics_on_random_bytes(
            b in proptest::collection::vec(any::<u8>(), 0..600),
            chunk in 1usize..64,
        ) {
            let mut rd = FrameReader::new(64);
            'outer: for c in b.chunks(chunk) {
                rd.push(c);
                loop {
                    match rd.next_frame() {
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(_) => break 'outer,
                    }
                }
            }
        }

        #[test]
        fn frame_reader_round_trips_random_frames(
            frames in proptest::collection::vec(
                (prop_oneof![Just(opcode::TEXT), Just(opcode::BINARY), Just(opcode::PING)],
                 proptest::collection::vec(any::<u8>(), 0..400)),
                0..12,
            ),
            chunk in 1usize..300,
        ) {
            let frames: Vec<(u8, Vec<u8>)> = frames
                .into_iter()
                .map(|(op, mut p)| {
                    if op == opcode::PING {
                        p.truncate(125);
                    }
                    (op, p)
                })
                .collect();
            let bytes: Vec<u8> = frames.iter().flat_map(|(op, p)| server_frame(*op, p)).collect();
            let mut src = Chunked { data: &bytes, chunk };
            let mut rd = FrameReader::new(64);
            let mut got = Vec::new();
            while rd.read_from(&mut src).unwrap() > 0 {
                drain(&mut rd, &mut got);
            }
            prop_assert_eq!(got, frames);
        }
    }
}
