//! The measuring point: wire-to-wire reaction time from a public market message leaving the
//! simulator to the order request it caused arriving back.
//!
//! **Echo convention.** A client that wants its reactions measured puts the update id `u` of the
//! triggering orderbook message as a decimal after the **last** `-` of its WS-trade `reqId`, or of the
//! `orderLinkId` of a REST/WS order request (the `reqId` is tried first). The text before the
//! **first** `-` names the variant the reaction is filed under (e.g. `echo-000017-12345` → variant
//! `echo`, `u = 12345`). Ids without a `-`, or without digits after the last `-`, are not measured.
//!
//! Stamps: the server stamps each public message carrying a `u` right after its first successful
//! write to a socket ([`MarketStamps::record`]) and each order request right after it is read off a
//! socket; both stamps come from one [`Clock`] (quanta TSC, same thread). Attribution is by `u`
//! alone (the request carries nothing else), so measure with one orderbook topic subscribed (or use
//! the paced mode). When a `u` sequence starts again (a topic opened afresh after its last
//! subscriber left, or the restart fault) all earlier stamps are forgotten, so a reaction to the new
//! sequence is never timed from an old message that had the same `u`; reactions still in flight to
//! the old sequence then count as unattributed. Histograms are in
//! nanoseconds, keyed `"{channel}/{variant}"` with channel `ws-trade` or `rest`.
//!
//! Contract: `record`/`react` allocate only when a new variant appears; no locks (owned by the
//! server thread). The echo client and [`tcp_pingpong`] run on their own threads and block in
//! socket reads (they sleep when idle).

use crate::time::{Clock, Tsc};
use hdrhistogram::Histogram;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::Message;

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
    hists: Vec<(String, Histogram<u64>)>,
    /// Requests whose id followed the convention but whose `u` was not (or no longer) stamped.
    pub unattributed: u64,
}

impl Reactions {
    /// Uses `clock` for every stamp.
    pub fn new(clock: Clock) -> Reactions {
        Reactions {
            clock,
            stamps: MarketStamps::default(),
            hists: Vec::new(),
            unattributed: 0,
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
        match self.hists.iter_mut().find(|(k, _)| is_key(k)) {
            Some((_, h)) => h.saturating_record(ns),
            None => {
                let mut h = new_hist();
                h.saturating_record(ns);
                self.hists.push((format!("{channel}/{variant}"), h));
            }
        }
        Some(ns)
    }

    /// Copies of all histograms, sorted by key.
    pub fn snapshot(&self) -> Vec<(String, Histogram<u64>)> {
        let mut v = self.hists.clone();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Clears all histograms and counters (stamps are kept).
    pub fn reset(&mut self) {
        self.hists.clear();
        self.unattributed = 0;
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

/// Bare TCP ping-pong over loopback with the same sizes as the echo path: `out_len` bytes out,
/// `back_len` bytes back, `iters` round trips after `warmup`, one every `gap` (zero = back to back;
/// a gap lets both ends go idle between rounds as they do under the paced feed). Both ends block in
/// `read` (they sleep like the simulator's epoll loop). Returns round-trip times in ns.
pub fn tcp_pingpong(
    out_len: usize,
    back_len: usize,
    warmup: usize,
    iters: usize,
    gap: Duration,
) -> io::Result<Histogram<u64>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let total = warmup + iters;
    let peer = std::thread::spawn(move || -> io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let mut inb = vec![0u8; out_len];
        let back = vec![b'b'; back_len];
        for _ in 0..total {
            s.read_exact(&mut inb)?;
            s.write_all(&back)?;
        }
        Ok(())
    });
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let clock = Clock::new();
    let out = vec![b'a'; out_len];
    let mut inb = vec![0u8; back_len];
    let mut h = new_hist();
    for i in 0..total {
        if !gap.is_zero() {
            std::thread::sleep(gap);
        }
        let t0 = clock.stamp();
        s.write_all(&out)?;
        s.read_exact(&mut inb)?;
        let t1 = clock.stamp();
        if i >= warmup {
            h.saturating_record(clock.delta_ns(t0, t1).max(1));
        }
    }
    peer.join()
        .map_err(|_| io::Error::other("ping-pong peer panicked"))??;
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

fn ws_connect(addr: SocketAddr, path: &str) -> io::Result<tungstenite::WebSocket<TcpStream>> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let cfg = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let url = format!("ws://{addr}{path}");
    tungstenite::client::client_with_config(url.as_str(), s, Some(cfg))
        .map(|(ws, _)| ws)
        .map_err(|e| io::Error::other(format!("ws handshake to {path} failed: {e}")))
}

/// Finds `"u":<digits>` in a public frame.
pub fn scan_u(frame: &[u8]) -> Option<u64> {
    let pos = frame.windows(4).position(|w| w == b"\"u\":")?;
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

fn read_text(ws: &mut tungstenite::WebSocket<TcpStream>) -> io::Result<Option<String>> {
    match ws.read() {
        Ok(Message::Text(t)) => Ok(Some(t.as_str().to_string())),
        Ok(_) => Ok(None),
        Err(tungstenite::Error::Io(e)) => Err(e),
        Err(e) => Err(io::Error::other(e.to_string())),
    }
}

/// Starts the echo client against a plain-TCP simulator at `addr`: it authenticates a `/v5/trade`
/// connection, subscribes `orderbook.{depth}.{symbol}` and answers every market message with an
/// `order.cancel` whose `reqId` and `orderLinkId` are `echo-{n}-{u}` (the request is prebuilt; only
/// the id and timestamp digits change). Cancel is used so the exchange's state does not grow.
pub fn start_echo(
    addr: SocketAddr,
    api_key: &str,
    api_secret: &str,
    cfg: &EchoConfig,
) -> io::Result<EchoClient> {
    let mut trade = ws_connect(addr, "/v5/trade")?;
    let expires = crate::time::wall_ms().0 + 10_000;
    let sig = super::auth::sign_ws(api_secret, expires);
    let auth = format!(r#"{{"op":"auth","args":["{api_key}",{expires},"{sig}"]}}"#);
    trade
        .send(Message::text(auth))
        .map_err(|e| io::Error::other(e.to_string()))?;
    let reply = read_text(&mut trade)?.unwrap_or_default();
    if !reply.contains("\"retCode\":0") {
        return Err(io::Error::other(format!(
            "echo client auth failed: {reply}"
        )));
    }
    let cat = cfg.category.as_str();
    let mut public = ws_connect(addr, &format!("/v5/public/{cat}"))?;
    let sub = format!(
        r#"{{"op":"subscribe","req_id":"echo","args":["orderbook.{}.{}"]}}"#,
        cfg.depth, cfg.symbol
    );
    public
        .send(Message::text(sub))
        .map_err(|e| io::Error::other(e.to_string()))?;
    public
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(50)))?;
    trade.get_ref().set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(EchoStats::default());
    let (stop2, stats2) = (stop.clone(), stats.clone());
    let symbol = cfg.symbol.clone();
    let cat = cat.to_string();
    let thread = std::thread::Builder::new().name("sim-echo".into()).spawn(move || -> io::Result<()> {
        let mut n: u64 = 0;
        let mut req = String::with_capacity(512);
        while !stop2.load(Ordering::Acquire) {
            let frame = match public.read() {
                Ok(Message::Text(t)) => t,
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e)) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => return Ok(()),
                Err(e) => return Err(io::Error::other(e.to_string())),
            };
            let Some(u) = scan_u(frame.as_bytes()) else { continue };
            stats2.ticks.fetch_add(1, Ordering::Relaxed);
            n += 1;
            req.clear();
            use std::fmt::Write as _;
            let ts = crate::time::wall_ms().0;
            let _ = write!(
                req,
                r#"{{"reqId":"echo-{n}-{u}","header":{{"X-BAPI-TIMESTAMP":"{ts}"}},"op":"order.cancel","args":[{{"category":"{cat}","symbol":"{symbol}","orderLinkId":"echo-{n}-{u}"}}]}}"#
            );
            match trade.send(Message::text(req.as_str())) {
                Ok(()) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
            stats2.sent.fetch_add(1, Ordering::Relaxed);
            loop {
                match trade.read() {
                    Ok(_) => stats2.reply_arrived(),
                    Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => return Ok(()),
                    Err(e) => return Err(io::Error::other(e.to_string())),
                }
            }
        }
        let _ = public.close(None);
        let _ = trade.close(None);
        Ok(())
    })?;
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
    fn tcp_pingpong_records_one_sample_per_round_trip() {
        let h = tcp_pingpong(100, 150, 5, 40, Duration::ZERO).unwrap();
        assert_eq!(h.len(), 40);
        assert!(h.min() >= 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn tags_and_frames_never_panic(s in ".{0,50}", b in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = parse_echo_tag(&s);
            let _ = scan_u(&b);
        }
    }
}
