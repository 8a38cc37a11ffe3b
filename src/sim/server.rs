//! The simulator's loopback server: one thread, one port, REST and WebSocket routed by Bybit's paths.
//!
//! Contract: [`Sim::start`] binds `127.0.0.1:port` (0 = ephemeral) and spawns ONE server thread that
//! owns the [`Exchange`] (deterministic: requests and market events are applied in the order this
//! thread sees them). The thread sleeps in `epoll_wait` (mio) until a socket is ready, a command
//! arrives (mio `Waker`) or a `timerfd` deadline passes (next market event, paced tick, stall end,
//! delayed response) — it never spins while idle, unless the benchmark-only
//! [`SimConfig::busy_poll`] asks it to (then it polls with a zero timeout). In the as-fast-as-possible pace it produces market
//! events only while every subscriber's socket accepts writes. Control calls on [`SimHandle`] are
//! messages to that thread answered over a channel (no shared locks). Allocation happens freely: this
//! is a test exchange, not the engine's hot path. Time: exchange timestamps are wall-clock ms; the
//! measuring point uses one [`Clock`] (TSC) read only on the server thread.

use super::auth;
use super::exchange::{
    AccountAudit, Exchange, ExchangeConfig, Instance, Op, PrivateBatch, PrivateTopic, PublicBatch,
    Reply, TopicId,
};
use super::faults::{ConnKind, Fault, FaultState};
use super::http::{self, Limits, Method, Request};
use super::measure::{self, Reactions, ReadStamped};
use super::ratelimit::{Endpoint, Grant, RateLimiter};
use super::tls::{self, Stream};
use super::ws::{self, LimitInfo, WsKind};
use crate::ids::Category;
use crate::time::{wall_ms, Clock, Tsc};
use hdrhistogram::Histogram;
use mio::net::TcpListener;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use serde_json::{json, Map, Value};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes, WebSocket};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const TIMER: Token = Token(2);
const FIRST_CONN: usize = 3;
/// Cap on one WebSocket's queued output before the connection is dropped as too slow.
const MAX_WS_BACKLOG: usize = 64 * 1024 * 1024;
/// How often silent connections are looked for.
const IDLE_CHECK: Duration = Duration::from_millis(100);

/// How market events are scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// The exchange's own schedule against wall-clock time (synthetic timing or replay speed).
    Natural,
    /// One market event every `Duration` (wall), regardless of the model's timestamps; the model's
    /// clock is advanced to each event's due time. Use ≥ the reaction time so reactions never overlap.
    Every(Duration),
    /// As fast as possible while every subscriber keeps up (socket back-pressure pauses production);
    /// idle (no production) while nobody subscribes to a public topic.
    Flood,
    /// No market events at all (tests pause the market to take checkpoints).
    Paused,
}

/// Everything needed to start a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The exchange core's configuration (symbols, accounts, market model).
    pub exchange: ExchangeConfig,
    /// TCP port on 127.0.0.1 (0 = ephemeral, for tests).
    pub port: u16,
    /// Serve https/wss with a self-signed certificate generated at start-up.
    pub tls: bool,
    /// Market event pacing.
    pub pace: Pace,
    /// Multiplies Bybit's default per-UID rate limits (1 = Bybit's defaults).
    pub rate_limit_scale: u32,
    /// HTTP header/body size limits.
    pub http_limits: Limits,
    /// Maximum market events applied per wake-up in [`Pace::Natural`].
    pub max_events_per_step: usize,
    /// Benchmark only: poll sockets without sleeping, spinning the server thread's core.
    ///
    /// Off by default (the server sleeps in `epoll_wait`). A write to a loopback socket whose reader
    /// sleeps also pays for waking that reader (on a virtual machine, an inter-processor interrupt
    /// through the hypervisor: ~15 µs here). A real exchange is across a NIC, where a client's
    /// `write` ends at the device queue; this switch gives a client that peer so its own latency can
    /// be measured without the simulator's wake-up in it.
    pub busy_poll: bool,
    /// Most connections held at once. A new connection beyond it closes the one silent the
    /// longest, so that held or abandoned sockets never lock a new client out.
    pub max_connections: usize,
    /// An HTTP connection that sends nothing for this long (an idle keep-alive, or a request
    /// left unfinished) is closed.
    pub http_idle: Duration,
    /// A WebSocket that sends nothing (not even a ping) for this long is closed, as Bybit
    /// closes a connection without a heartbeat (10 minutes by default).
    pub ws_idle: Duration,
}

impl SimConfig {
    /// Defaults around an exchange config: ephemeral port, no TLS, natural pace, Bybit's limits.
    pub fn new(exchange: ExchangeConfig) -> SimConfig {
        SimConfig {
            exchange,
            port: 0,
            tls: false,
            pace: Pace::Natural,
            rate_limit_scale: 1,
            http_limits: Limits::default(),
            max_events_per_step: 4096,
            busy_poll: false,
            max_connections: 4096,
            http_idle: Duration::from_secs(60),
            ws_idle: Duration::from_secs(600),
        }
    }
}

/// Errors from starting or controlling the simulator.
#[derive(Debug)]
pub enum SimError {
    /// A socket/poll operation failed (`context` says which).
    Io {
        /// What was being done.
        context: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// TLS set-up failed.
    Tls(&'static str),
    /// The exchange core rejected its configuration.
    Exchange(super::exchange::SimError),
    /// The configuration has no account (the handle hands out the first account's key).
    NoAccount,
    /// The server thread is gone (shut down or panicked).
    Stopped,
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Io { context, source } => write!(f, "{context}: {source}"),
            SimError::Tls(m) => write!(f, "tls: {m}"),
            SimError::Exchange(e) => write!(f, "exchange: {e}"),
            SimError::NoAccount => f.write_str("the exchange config has no account"),
            SimError::Stopped => f.write_str("the simulator thread has stopped"),
        }
    }
}

impl std::error::Error for SimError {}

fn io_err(context: &'static str) -> impl FnOnce(io::Error) -> SimError {
    move |source| SimError::Io { context, source }
}

/// Live counters (relaxed atomics, updated by the server thread).
#[derive(Debug, Default)]
pub struct SimStats {
    /// TCP connections accepted.
    pub accepted: AtomicU64,
    /// REST requests answered (any status).
    pub rest_requests: AtomicU64,
    /// WebSocket frames received from clients.
    pub ws_in: AtomicU64,
    /// Public market frames written (counted per subscriber).
    pub public_out: AtomicU64,
    /// Private frames written (per socket).
    pub private_out: AtomicU64,
    /// Requests answered with a protocol error (bad HTTP, bad JSON, unknown op/path, auth failures).
    pub bad_requests: AtomicU64,
    /// Requests refused with 10006.
    pub rate_limited: AtomicU64,
    /// Market events applied.
    pub market_events: AtomicU64,
    /// Connections closed to make room under [`SimConfig::max_connections`].
    pub evicted: AtomicU64,
    /// Connections closed for silence ([`SimConfig::http_idle`], [`SimConfig::ws_idle`]).
    pub idle_closed: AtomicU64,
}

/// A plain copy of [`SimStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// See [`SimStats::accepted`].
    pub accepted: u64,
    /// See [`SimStats::rest_requests`].
    pub rest_requests: u64,
    /// See [`SimStats::ws_in`].
    pub ws_in: u64,
    /// See [`SimStats::public_out`].
    pub public_out: u64,
    /// See [`SimStats::private_out`].
    pub private_out: u64,
    /// See [`SimStats::bad_requests`].
    pub bad_requests: u64,
    /// See [`SimStats::rate_limited`].
    pub rate_limited: u64,
    /// See [`SimStats::market_events`].
    pub market_events: u64,
    /// See [`SimStats::evicted`].
    pub evicted: u64,
    /// See [`SimStats::idle_closed`].
    pub idle_closed: u64,
}

/// Book levels as returned by [`Exchange::book_levels`]: (bids best-first, asks best-first) of (price, qty).
pub type Levels = (Vec<(i64, i64)>, Vec<(i64, i64)>);

/// Reaction histograms (ns) keyed `"{channel}/{variant}"`, the count of unattributed requests,
/// and the count of repeats (further requests for a tick already timed under the same key).
pub type ReactionReport = (Vec<(String, Histogram<u64>)>, u64, u64);

enum Cmd {
    Fault(Fault, Sender<()>),
    Reactions(Sender<ReactionReport>),
    ResetReactions(Sender<()>),
    Book(String, Category, usize, Sender<Option<Levels>>),
    Pace(Pace, Sender<()>),
    Audit(String, Category, String, Sender<Option<AccountAudit>>),
    Shutdown,
}

/// Entry point.
#[derive(Debug)]
pub struct Sim;

impl Sim {
    /// Starts the server thread and returns once it is listening.
    pub fn start(cfg: SimConfig) -> Result<SimHandle, SimError> {
        let account = cfg.exchange.accounts.first().ok_or(SimError::NoAccount)?;
        let (api_key, api_secret) = (account.api_key.clone(), account.api_secret.clone());
        let identity = if cfg.tls {
            Some(tls::generate_identity().map_err(SimError::Tls)?)
        } else {
            None
        };
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", cfg.port))
            .map_err(io_err("bind 127.0.0.1"))?;
        std_listener
            .set_nonblocking(true)
            .map_err(io_err("listener non-blocking"))?;
        let addr = std_listener
            .local_addr()
            .map_err(io_err("listener address"))?;
        let poll = Poll::new().map_err(io_err("epoll"))?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(io_err("waker"))?);
        let (cmd_tx, cmd_rx) = mpsc::channel();
        let stats = Arc::new(SimStats::default());
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), SimError>>();
        let stats2 = stats.clone();
        let server_tls = identity.as_ref().map(|i| i.server.clone());
        let thread = std::thread::Builder::new()
            .name("gapmm-sim".into())
            .spawn(move || {
                let server = match Server::new(cfg, poll, std_listener, server_tls, cmd_rx, stats2)
                {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                server.run();
            })
            .map_err(io_err("spawn server thread"))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => return Err(SimError::Stopped),
        }
        Ok(SimHandle {
            addr,
            cert_der: identity.map(|i| i.cert_der.to_vec()),
            api_key,
            api_secret,
            cmd: cmd_tx,
            waker,
            stats,
            thread: Some(thread),
        })
    }
}

/// A running simulator. Dropping it shuts the server down.
pub struct SimHandle {
    addr: SocketAddr,
    cert_der: Option<Vec<u8>>,
    api_key: String,
    api_secret: String,
    cmd: Sender<Cmd>,
    waker: Arc<Waker>,
    stats: Arc<SimStats>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.addr)
            .field("tls", &self.cert_der.is_some())
            .field("api_key", &self.api_key)
            .field("api_secret", &"<redacted>")
            .finish()
    }
}

impl SimHandle {
    /// The listening address (127.0.0.1:port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// Whether the server speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.cert_der.is_some()
    }
    /// REST base URL: `http://127.0.0.1:port` or `https://…`.
    pub fn http_url(&self) -> String {
        format!(
            "{}://{}",
            if self.is_tls() { "https" } else { "http" },
            self.addr
        )
    }
    /// WebSocket base URL: `ws://127.0.0.1:port` or `wss://…` (append `/v5/public/linear` etc.).
    pub fn ws_url(&self) -> String {
        format!(
            "{}://{}",
            if self.is_tls() { "wss" } else { "ws" },
            self.addr
        )
    }
    /// The self-signed certificate (DER) clients must trust when TLS is on.
    pub fn cert_der(&self) -> Option<&[u8]> {
        self.cert_der.as_deref()
    }
    /// The first account's API key.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }
    /// The first account's API secret (the simulator's own made-up secret).
    pub fn api_secret(&self) -> &str {
        &self.api_secret
    }
    /// Current counters.
    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.stats;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            accepted: l(&s.accepted),
            rest_requests: l(&s.rest_requests),
            ws_in: l(&s.ws_in),
            public_out: l(&s.public_out),
            private_out: l(&s.private_out),
            bad_requests: l(&s.bad_requests),
            rate_limited: l(&s.rate_limited),
            market_events: l(&s.market_events),
            evicted: l(&s.evicted),
            idle_closed: l(&s.idle_closed),
        }
    }

    fn ask<T>(&self, make: impl FnOnce(Sender<T>) -> Cmd) -> Result<T, SimError> {
        let (tx, rx) = mpsc::channel();
        self.cmd.send(make(tx)).map_err(|_| SimError::Stopped)?;
        self.waker.wake().map_err(io_err("wake server"))?;
        rx.recv().map_err(|_| SimError::Stopped)
    }

    /// Injects a fault; returns once the server thread has applied it.
    pub fn fault(&self, f: Fault) -> Result<(), SimError> {
        self.ask(|tx| Cmd::Fault(f, tx))
    }
    /// Reaction-time histograms (ns) per `"{channel}/{variant}"`, and the count of unattributed requests.
    pub fn reactions(&self) -> Result<ReactionReport, SimError> {
        self.ask(Cmd::Reactions)
    }
    /// Clears the reaction histograms.
    pub fn reset_reactions(&self) -> Result<(), SimError> {
        self.ask(Cmd::ResetReactions)
    }
    /// The exchange's own book (ticks, lots), best-first, up to `depth` levels per side.
    pub fn book_levels(
        &self,
        symbol: &str,
        category: Category,
        depth: usize,
    ) -> Result<Option<Levels>, SimError> {
        self.ask(|tx| Cmd::Book(symbol.to_string(), category, depth, tx))
    }
    /// The exchange's audit of one account (by API key) on one book.
    pub fn audit(
        &self,
        api_key: &str,
        category: Category,
        symbol: &str,
    ) -> Result<Option<AccountAudit>, SimError> {
        self.ask(|tx| Cmd::Audit(api_key.to_string(), category, symbol.to_string(), tx))
    }
    /// Changes the market pacing.
    pub fn set_pace(&self, pace: Pace) -> Result<(), SimError> {
        self.ask(|tx| Cmd::Pace(pace, tx))
    }
    /// Stops the server thread and waits for it.
    pub fn shutdown(mut self) -> Result<(), SimError> {
        self.stop()
    }
    fn stop(&mut self) -> Result<(), SimError> {
        let Some(t) = self.thread.take() else {
            return Ok(());
        };
        let _ = self.cmd.send(Cmd::Shutdown);
        let _ = self.waker.wake();
        t.join().map_err(|_| SimError::Stopped)
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A `timerfd` so deadlines below epoll's 1 ms granularity still let the thread sleep.
struct TimerFd(OwnedFd);

impl TimerFd {
    fn new() -> io::Result<TimerFd> {
        // SAFETY: timerfd_create has no memory preconditions; the result is checked below.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a freshly created descriptor that nothing else owns.
        Ok(TimerFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }
    fn arm(&self, after: Duration) {
        let d = after.max(Duration::from_micros(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
            },
        };
        // SAFETY: valid fd owned by self, `spec` is a valid itimerspec, old value not requested.
        unsafe { libc::timerfd_settime(self.0.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    }
    fn drain(&self) {
        let mut b = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a live 8-byte buffer from an owned non-blocking fd.
        unsafe { libc::read(self.0.as_raw_fd(), b.as_mut_ptr().cast(), b.len()) };
    }
}

struct HttpConn {
    stream: Stream,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    close_after: bool,
    eof: bool,
}

struct WsConn {
    ws: WebSocket<ReadStamped<Stream>>,
    kind: WsKind,
    topics: Vec<TopicId>,
    uid: Option<u64>,
    private_subs: Vec<(&'static str, Option<Category>)>,
    req_ids: HashSet<String>,
    blocked: bool,
    /// Sends nothing more ([`Fault::Mute`]).
    muted: bool,
}

enum State {
    Http(Box<HttpConn>),
    Ws(Box<WsConn>),
    /// Transient, while the stream moves from HTTP to WebSocket.
    Gone,
}

struct Conn {
    gen: u64,
    id: String,
    state: State,
    dead: bool,
    /// When the peer last sent anything (accepted, bytes, a frame).
    last_in: Instant,
}

impl Conn {
    fn kind(&self) -> ConnKind {
        match &self.state {
            State::Http(_) | State::Gone => ConnKind::Rest,
            State::Ws(w) => match w.kind {
                WsKind::Public(_) => ConnKind::Public,
                WsKind::Private => ConnKind::Private,
                WsKind::Trade => ConnKind::Trade,
            },
        }
    }
}

enum Delayed {
    Http(Vec<u8>, bool),
    Text(String),
}

struct TopicInfo {
    name: String,
    category: Category,
    symbol: String,
    subs: Vec<Sub>,
}

/// One connection's subscription to a public topic.
#[derive(Clone, Copy)]
struct Sub {
    /// The connection's slot.
    conn: usize,
    /// Ordinal (see `Server::pub_drained`) of the first public frame it gets. Frames produced
    /// before it subscribed may still be queued then (made by a request handled earlier in the
    /// same pass, or held back by a stall); its snapshot already contains them, so they would
    /// reach it as deltas as old as the snapshot or older.
    from: u64,
}

struct Server {
    poll: Poll,
    listener: TcpListener,
    timer: TimerFd,
    cmds: Receiver<Cmd>,
    tls: Option<Arc<rustls::ServerConfig>>,
    conns: Vec<Option<Conn>>,
    ex: Exchange,
    rl: RateLimiter,
    faults: FaultState,
    reactions: Reactions,
    clock: Clock,
    topics: HashMap<TopicId, TopicInfo>,
    pace: Pace,
    next_tick: Instant,
    market_due: Option<u64>,
    market_exhausted: bool,
    virtual_ms: u64,
    delayed: VecDeque<(Instant, usize, u64, Delayed)>,
    stats: Arc<SimStats>,
    gen: u64,
    trace: u64,
    limits: Limits,
    max_events: usize,
    busy_poll: bool,
    max_connections: usize,
    http_idle: Duration,
    ws_idle: Duration,
    next_idle_check: Instant,
    pub_scratch: PublicBatch,
    /// Public frames taken from the exchange so far, i.e. the ordinal of the next one drained.
    /// Frames leave the exchange in the order they were produced, so with the exchange's pending
    /// count this numbers every frame and tells which ones predate a subscription.
    pub_drained: u64,
    priv_scratch: PrivateBatch,
    touched: Vec<usize>,
    to_stamp: Vec<u64>,
    ws_cfg: WebSocketConfig,
    /// The deadline the timerfd is armed for (None: not armed, or it fired). Re-arming for the
    /// same deadline is skipped: one `timerfd_settime` fewer on each pass that changed nothing
    /// (e.g. after answering a request between two paced ticks).
    timer_at: Option<Instant>,
}

fn wall() -> u64 {
    wall_ms().0
}

fn envelope(code: i64, msg: &str, result: Value, ext: Value, now: u64) -> Vec<u8> {
    json!({"retCode": code, "retMsg": msg, "result": result, "retExtInfo": ext, "time": now})
        .to_string()
        .into_bytes()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b.get(i).copied().unwrap_or(0);
        if c == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

/// Turns a raw query string into a JSON object of strings.
fn query_params(q: &[u8]) -> Option<Value> {
    let q = std::str::from_utf8(q).ok()?;
    let mut m = Map::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        m.insert(percent_decode(k), Value::String(percent_decode(v)));
    }
    Some(Value::Object(m))
}

fn category_of(params: &Value) -> Option<Category> {
    params
        .get("category")
        .and_then(Value::as_str)
        .and_then(|c| Category::parse(c.as_bytes()))
}

/// The id used for reaction attribution: an explicit id first, else the first order's orderLinkId.
fn link_id_of(params: &Value) -> Option<&str> {
    params
        .get("orderLinkId")
        .and_then(Value::as_str)
        .or_else(|| {
            params
                .get("request")?
                .as_array()?
                .first()?
                .get("orderLinkId")?
                .as_str()
        })
}

fn rest_route(path: &[u8]) -> Option<(Method, Op, Option<Endpoint>)> {
    Some(match path {
        b"/v5/market/time" => (Method::Get, Op::Time, None),
        b"/v5/market/instruments-info" => (Method::Get, Op::InstrumentsInfo, None),
        b"/v5/market/orderbook" => (Method::Get, Op::Orderbook, None),
        b"/v5/market/tickers" => (Method::Get, Op::Tickers, None),
        b"/v5/market/recent-trade" => (Method::Get, Op::RecentTrade, None),
        b"/v5/order/create" => (Method::Post, Op::Create, Some(Endpoint::Create)),
        b"/v5/order/amend" => (Method::Post, Op::Amend, Some(Endpoint::Amend)),
        b"/v5/order/cancel" => (Method::Post, Op::Cancel, Some(Endpoint::Cancel)),
        b"/v5/order/cancel-all" => (Method::Post, Op::CancelAll, Some(Endpoint::CancelAll)),
        b"/v5/order/create-batch" => (Method::Post, Op::CreateBatch, Some(Endpoint::CreateBatch)),
        b"/v5/order/amend-batch" => (Method::Post, Op::AmendBatch, Some(Endpoint::AmendBatch)),
        b"/v5/order/cancel-batch" => (Method::Post, Op::CancelBatch, Some(Endpoint::CancelBatch)),
        b"/v5/order/realtime" => (Method::Get, Op::OrderRealtime, Some(Endpoint::Realtime)),
        b"/v5/position/list" => (Method::Get, Op::PositionList, Some(Endpoint::PositionList)),
        b"/v5/execution/list" => (
            Method::Get,
            Op::ExecutionList,
            Some(Endpoint::ExecutionList),
        ),
        b"/v5/account/wallet-balance" => (
            Method::Get,
            Op::WalletBalance,
            Some(Endpoint::WalletBalance),
        ),
        b"/v5/order/history" => (Method::Get, Op::OrderHistory, Some(Endpoint::OrderHistory)),
        b"/v5/asset/coin/query-info" => (Method::Get, Op::CoinInfo, Some(Endpoint::CoinInfo)),
        b"/v5/user/query-api" => (Method::Get, Op::QueryApi, Some(Endpoint::QueryApi)),
        b"/v5/account/info" => (Method::Get, Op::AccountInfo, Some(Endpoint::AccountInfo)),
        _ => return None,
    })
}

fn is_batch(ep: Endpoint) -> bool {
    matches!(
        ep,
        Endpoint::CreateBatch | Endpoint::AmendBatch | Endpoint::CancelBatch
    )
}

fn private_base(t: PrivateTopic) -> &'static str {
    match t {
        PrivateTopic::Order => "order",
        PrivateTopic::Execution => "execution",
        PrivateTopic::ExecutionFast => "execution.fast",
        PrivateTopic::Position => "position",
        PrivateTopic::Wallet => "wallet",
    }
}

/// The outcome of an order-path request after limits.
struct Outcome {
    reply: Reply,
    grant: Option<Grant>,
}

impl Server {
    fn new(
        cfg: SimConfig,
        poll: Poll,
        std_listener: std::net::TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        cmds: Receiver<Cmd>,
        stats: Arc<SimStats>,
    ) -> Result<Server, SimError> {
        let mut xc = cfg.exchange;
        // Each start is a new exchange instance: ids and the key id change
        // (see `ExchangeConfig::instance`) unless the config fixed them.
        if xc.instance == Instance::default() {
            xc.instance = Instance::fresh();
        }
        let ex = Exchange::new(xc).map_err(SimError::Exchange)?;
        let mut listener = TcpListener::from_std(std_listener);
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(io_err("register listener"))?;
        let timer = TimerFd::new().map_err(io_err("timerfd"))?;
        poll.registry()
            .register(
                &mut SourceFd(&timer.0.as_raw_fd()),
                TIMER,
                Interest::READABLE,
            )
            .map_err(io_err("register timer"))?;
        let clock = Clock::new();
        let now = wall();
        Ok(Server {
            poll,
            listener,
            timer,
            cmds,
            tls,
            conns: Vec::new(),
            ex,
            rl: RateLimiter::new(cfg.rate_limit_scale),
            faults: FaultState::default(),
            reactions: Reactions::new(clock.clone()),
            clock,
            topics: HashMap::new(),
            pace: cfg.pace,
            next_tick: Instant::now(),
            market_due: None,
            market_exhausted: false,
            virtual_ms: now,
            delayed: VecDeque::new(),
            stats,
            gen: 0,
            trace: 0,
            limits: cfg.http_limits,
            max_events: cfg.max_events_per_step.max(1),
            busy_poll: cfg.busy_poll,
            max_connections: cfg.max_connections.max(1),
            http_idle: cfg.http_idle,
            ws_idle: cfg.ws_idle,
            next_idle_check: Instant::now() + IDLE_CHECK,
            pub_scratch: PublicBatch::default(),
            pub_drained: 0,
            priv_scratch: PrivateBatch::default(),
            touched: Vec::new(),
            to_stamp: Vec::new(),
            ws_cfg: WebSocketConfig::default()
                .read_buffer_size(16 * 1024)
                .max_write_buffer_size(MAX_WS_BACKLOG),
            timer_at: None,
        })
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(256);
        let mut ready: Vec<usize> = Vec::new();
        loop {
            // Busy-poll: never sleep and never arm the timer; every deadline is checked against
            // the clock on each pass by the steps below.
            let timeout = if self.busy_poll {
                Some(Duration::ZERO)
            } else {
                self.arm_next_deadline()
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return;
                }
            }
            ready.clear();
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept(),
                    WAKER => {}
                    TIMER => {
                        self.timer.drain();
                        self.timer_at = None;
                    }
                    Token(t) => ready.push(t - FIRST_CONN),
                }
            }
            if !self.handle_commands() {
                return;
            }
            for &i in &ready {
                self.service(i);
            }
            self.send_delayed();
            self.pump_market();
            self.fanout_private();
            self.reap();
            self.close_idle(Instant::now());
        }
    }

    /// Arms the timer for the earliest deadline; returns the poll timeout.
    fn arm_next_deadline(&mut self) -> Option<Duration> {
        let now = Instant::now();
        let mut deadline: Option<Instant> = self.delayed.front().map(|d| d.0);
        if self.conns.iter().any(Option::is_some) {
            deadline = Some(deadline.map_or(self.next_idle_check, |d| d.min(self.next_idle_check)));
        }
        let mut min = |t: Instant| deadline = Some(deadline.map_or(t, |d| d.min(t)));
        if let Some(s) = self.faults.stall_until {
            min(s);
        } else {
            match self.pace {
                Pace::Natural => {
                    if let Some(due) = self.market_due {
                        let w = wall();
                        min(now + Duration::from_millis(due.saturating_sub(w)));
                    }
                }
                Pace::Every(_) => {
                    if !self.market_exhausted {
                        min(self.next_tick);
                    }
                }
                Pace::Flood => {
                    if self.flood_ready() {
                        return Some(Duration::ZERO);
                    }
                }
                Pace::Paused => {}
            }
        }
        match deadline {
            None => None,
            Some(d) if d <= now => Some(Duration::ZERO),
            Some(d) => {
                if self.timer_at != Some(d) {
                    self.timer.arm(d - now);
                    self.timer_at = Some(d);
                }
                None
            }
        }
    }

    /// Flood pace: produce only while someone subscribes, nobody is backed up and the model has events.
    fn flood_ready(&self) -> bool {
        if self.market_exhausted {
            return false;
        }
        let mut any = false;
        for t in self.topics.values() {
            for s in &t.subs {
                if let Some(Some(Conn {
                    state: State::Ws(w),
                    dead: false,
                    ..
                })) = self.conns.get(s.conn)
                {
                    if w.blocked {
                        return false;
                    }
                    any = true;
                }
            }
        }
        any
    }

    fn accept(&mut self) {
        loop {
            if self.conns.iter().flatten().count() >= self.max_connections && !self.evict_idlest() {
                return;
            }
            match self.listener.accept() {
                Ok((mut sock, _)) => {
                    self.stats.accepted.fetch_add(1, Ordering::Relaxed);
                    let _ = sock.set_nodelay(true);
                    let idx = match self.conns.iter().position(Option::is_none) {
                        Some(i) => i,
                        None => {
                            self.conns.push(None);
                            self.conns.len() - 1
                        }
                    };
                    if self
                        .poll
                        .registry()
                        .register(
                            &mut sock,
                            Token(idx + FIRST_CONN),
                            Interest::READABLE | Interest::WRITABLE,
                        )
                        .is_err()
                    {
                        continue;
                    }
                    let Ok(stream) = Stream::new(sock, self.tls.as_ref()) else {
                        continue;
                    };
                    self.gen += 1;
                    let conn = Conn {
                        gen: self.gen,
                        id: format!("sim-{:08x}-{idx}", self.gen),
                        state: State::Http(Box::new(HttpConn {
                            stream,
                            inbuf: Vec::with_capacity(4096),
                            out: Vec::new(),
                            close_after: false,
                            eof: false,
                        })),
                        dead: false,
                        last_in: Instant::now(),
                    };
                    if let Some(slot) = self.conns.get_mut(idx) {
                        *slot = Some(conn);
                    }
                    // Data may already be waiting (edge-triggered registration).
                    self.service(idx);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Out of descriptors: the listener is edge-triggered, so a connection left in
                // the backlog now would wait for the next one to arrive. Make room and retry.
                Err(e)
                    if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
                        && self.evict_idlest() =>
                {
                    continue
                }
                Err(_) => return,
            }
        }
    }

    /// Closes the connection silent the longest; false if there is none.
    fn evict_idlest(&mut self) -> bool {
        let idlest = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().filter(|c| !c.dead).map(|c| (c.last_in, i)))
            .min();
        let Some((_, i)) = idlest else {
            return false;
        };
        if let Some(c) = self.conns.get_mut(i).and_then(Option::as_mut) {
            c.dead = true;
        }
        self.stats.evicted.fetch_add(1, Ordering::Relaxed);
        self.reap();
        true
    }

    /// Closes every connection silent for longer than its kind allows (checked a few times a
    /// second, not on every pass).
    fn close_idle(&mut self, now: Instant) {
        if now < self.next_idle_check {
            return;
        }
        self.next_idle_check = now + IDLE_CHECK;
        let (http, ws) = (self.http_idle, self.ws_idle);
        let mut any = false;
        for c in self.conns.iter_mut().flatten() {
            let limit = match c.state {
                State::Ws(_) => ws,
                _ => http,
            };
            if !c.dead && now.saturating_duration_since(c.last_in) > limit {
                c.dead = true;
                any = true;
                self.stats.idle_closed.fetch_add(1, Ordering::Relaxed);
            }
        }
        if any {
            self.reap();
        }
    }

    fn handle_commands(&mut self) -> bool {
        while let Ok(cmd) = self.cmds.try_recv() {
            match cmd {
                Cmd::Shutdown => return false,
                Cmd::Fault(f, tx) => {
                    self.apply_fault(f);
                    let _ = tx.send(());
                }
                Cmd::Reactions(tx) => {
                    let r = &self.reactions;
                    let _ = tx.send((r.snapshot(), r.unattributed, r.repeats));
                }
                Cmd::ResetReactions(tx) => {
                    self.reactions.reset();
                    let _ = tx.send(());
                }
                Cmd::Book(sym, cat, depth, tx) => {
                    let _ = tx.send(self.ex.book_levels(&sym, cat, depth));
                }
                Cmd::Audit(key, cat, sym, tx) => {
                    let _ = tx.send(self.ex.audit(&key, cat, &sym));
                }
                Cmd::Pace(p, tx) => {
                    self.pace = p;
                    self.next_tick = Instant::now();
                    let _ = tx.send(());
                }
            }
        }
        true
    }

    fn apply_fault(&mut self, f: Fault) {
        match f {
            Fault::Drop(kind) => {
                for c in self.conns.iter_mut().flatten() {
                    if c.kind() == kind {
                        c.dead = true;
                    }
                }
                self.reap();
            }
            Fault::SkipU => {
                let ids: Vec<TopicId> = self.topics.keys().copied().collect();
                for t in ids {
                    self.ex.skip_update_id(t);
                }
            }
            Fault::Malformed(kind) => {
                let junk = match kind {
                    ConnKind::Public => "{\"topic\":\"orderbook.50.BTCUSDT\",\"type\":\"delta\",\"data\":{\"b\":[[\"1",
                    _ => "{\"retCode\":0,\"op\":",
                };
                for i in 0..self.conns.len() {
                    let is_kind = self
                        .conns
                        .get(i)
                        .and_then(Option::as_ref)
                        .is_some_and(|c| c.kind() == kind);
                    if !is_kind {
                        continue;
                    }
                    if kind == ConnKind::Rest {
                        self.with_http(i, |h| {
                            h.out
                                .extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: zz\r\n\r\n")
                        });
                    } else {
                        self.send_text(i, junk.to_string());
                    }
                }
            }
            Fault::Stall(d) => self.faults.stall_until = Some(Instant::now() + d),
            Fault::RefuseAuth(kind) => {
                if !self.faults.refuse_auth.contains(&kind) {
                    self.faults.refuse_auth.push(kind);
                }
            }
            Fault::Outage(kind, d) => {
                self.faults.outage.push((kind, Instant::now() + d));
                self.apply_fault(Fault::Drop(kind));
            }
            Fault::RefusePrivateSubscribe => self.faults.refuse_private_subscribe = true,
            Fault::Mute(kind) => {
                for c in self.conns.iter_mut().flatten() {
                    if c.kind() == kind {
                        if let State::Ws(w) = &mut c.state {
                            w.muted = true;
                        }
                    }
                }
            }
            Fault::Reject10006(n) => self.faults.reject_10006 = n,
            Fault::Http5xx(n) => self.faults.http_5xx = n,
            Fault::Delay(d) => self.faults.delay = d,
            Fault::Restart => {
                let mut syms: Vec<(String, Category)> = self
                    .topics
                    .values()
                    .map(|t| (t.symbol.clone(), t.category))
                    .collect();
                syms.sort_by(|a, b| {
                    a.0.cmp(&b.0)
                        .then((a.1 == Category::Spot).cmp(&(b.1 == Category::Spot)))
                });
                syms.dedup();
                let now = wall();
                for (s, c) in syms {
                    self.ex.restart_book(c, &s, now);
                }
                self.reactions.stamps.clear();
            }
        }
    }

    /// Removes connection `i` from topic `t`; the last subscriber leaving closes the topic in the
    /// exchange so it stops producing frames nobody reads.
    fn unsubscribe(&mut self, t: TopicId, i: usize) {
        let empty = match self.topics.get_mut(&t) {
            Some(info) => {
                info.subs.retain(|s| s.conn != i);
                info.subs.is_empty()
            }
            None => false,
        };
        if empty {
            self.topics.remove(&t);
            self.ex.close_topic(t);
        }
    }

    fn with_http(&mut self, i: usize, f: impl FnOnce(&mut HttpConn)) {
        if let Some(Some(Conn {
            state: State::Http(h),
            ..
        })) = self.conns.get_mut(i)
        {
            f(h);
            let _ = flush_http(h);
        }
    }

    fn reap(&mut self) {
        for i in 0..self.conns.len() {
            let dead = self
                .conns
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(|c| c.dead);
            if !dead {
                continue;
            }
            if let Some(mut c) = self.conns.get_mut(i).and_then(Option::take) {
                let sock = match &mut c.state {
                    State::Http(h) => Some(h.stream.socket()),
                    State::Ws(w) => Some(w.ws.get_mut().get_mut().socket()),
                    State::Gone => None,
                };
                if let Some(sock) = sock {
                    let _ = self.poll.registry().deregister(sock);
                    let _ = sock.shutdown(std::net::Shutdown::Both);
                }
                if let State::Ws(w) = &c.state {
                    for &t in &w.topics {
                        self.unsubscribe(t, i);
                    }
                }
            }
        }
    }

    fn service(&mut self, i: usize) {
        let Some(mut conn) = self.conns.get_mut(i).and_then(Option::take) else {
            return;
        };
        let mut again = true;
        while again && !conn.dead {
            again = false;
            match &mut conn.state {
                State::Http(_) => again = self.service_http(i, &mut conn),
                State::Ws(_) => self.service_ws(i, &mut conn),
                State::Gone => conn.dead = true,
            }
        }
        if let Some(slot) = self.conns.get_mut(i) {
            *slot = Some(conn);
        }
    }

    /// Returns true if the connection must be serviced again (read stopped at the buffer cap, or it
    /// was upgraded to a WebSocket with data pending).
    fn service_http(&mut self, i: usize, conn: &mut Conn) -> bool {
        let cap = self.limits.max_head + self.limits.max_body + 16 * 1024;
        let State::Http(h) = &mut conn.state else {
            return false;
        };
        let mut read_at: Option<Tsc> = None;
        let mut capped = false;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if h.inbuf.len() >= cap {
                capped = true;
                break;
            }
            match h.stream.read(&mut chunk) {
                Ok(0) => {
                    h.eof = true;
                    break;
                }
                Ok(n) => {
                    if read_at.is_none() {
                        read_at = Some(self.clock.stamp());
                        conn.last_in = Instant::now();
                    }
                    h.inbuf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    conn.dead = true;
                    return false;
                }
            }
        }
        let read_at = read_at.unwrap_or_else(|| self.clock.stamp());
        let mut consumed = 0;
        let mut upgrade: Option<(WsKind, usize)> = None;
        while !h.close_after {
            let parsed = http::parse_request(h.inbuf.get(consumed..).unwrap_or(&[]), &self.limits);
            match parsed {
                Ok(None) => break,
                Ok(Some((req, n))) => {
                    consumed += n;
                    if req.is_websocket_upgrade() {
                        match (WsKind::from_path(req.path), req.header("Sec-WebSocket-Key")) {
                            (Some(kind), Some(_))
                                if self.faults.in_outage(kind.conn_kind(), Instant::now()) =>
                            {
                                let body = envelope(
                                    10016,
                                    "service unavailable",
                                    json!({}),
                                    json!({}),
                                    wall(),
                                );
                                http::write_response(&mut h.out, 503, &[], &body, true);
                                h.close_after = true;
                                consumed = h.inbuf.len();
                                break;
                            }
                            (Some(kind), Some(key)) => {
                                let accept = tungstenite::handshake::derive_accept_key(key);
                                let _ = write!(
                                    h.out,
                                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                                );
                                upgrade = Some((kind, consumed));
                                break;
                            }
                            _ => {
                                self.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
                                let body = envelope(
                                    10404,
                                    "unknown websocket path",
                                    json!({}),
                                    json!({}),
                                    wall(),
                                );
                                http::write_response(&mut h.out, 404, &[], &body, false);
                                continue;
                            }
                        }
                    }
                    let (status, headers, body) = self.handle_rest(&req, read_at);
                    let close = !req.keep_alive();
                    self.stats.rest_requests.fetch_add(1, Ordering::Relaxed);
                    let hdr: Vec<(&str, &str)> =
                        headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    if self.faults.delay.is_zero() {
                        http::write_response(&mut h.out, status, &hdr, &body, close);
                    } else {
                        let mut bytes = Vec::new();
                        http::write_response(&mut bytes, status, &hdr, &body, close);
                        self.delayed.push_back((
                            Instant::now() + self.faults.delay,
                            i,
                            conn.gen,
                            Delayed::Http(bytes, close),
                        ));
                    }
                    if close {
                        h.close_after = true;
                    }
                }
                Err(e) => {
                    self.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
                    let body = envelope(10001, e.as_str(), json!({}), json!({}), wall());
                    http::write_response(&mut h.out, 400, &[], &body, true);
                    h.close_after = true;
                    consumed = h.inbuf.len();
                }
            }
        }
        h.inbuf.drain(..consumed.min(h.inbuf.len()));
        if let Some((kind, _)) = upgrade {
            // Write the 101 now; it must precede every frame.
            if flush_http(h).is_err() || !h.out.is_empty() && !h.stream.wants_write() {
                conn.dead = true;
                return false;
            }
            let leftover = std::mem::take(&mut h.inbuf);
            let State::Http(hb) = std::mem::replace(&mut conn.state, State::Gone) else {
                return false;
            };
            let stream = hb.stream;
            let ws = WebSocket::from_partially_read(
                ReadStamped::new(stream, self.clock.clone()),
                leftover,
                Role::Server,
                Some(self.ws_cfg),
            );
            conn.state = State::Ws(Box::new(WsConn {
                ws,
                kind,
                topics: Vec::new(),
                uid: None,
                private_subs: Vec::new(),
                req_ids: HashSet::new(),
                blocked: false,
                muted: false,
            }));
            return true;
        }
        if flush_http(h).is_err() {
            conn.dead = true;
            return false;
        }
        if (h.close_after || h.eof) && h.out.is_empty() && !h.stream.wants_write() {
            let pending_delayed = self.delayed.iter().any(|d| d.1 == i && d.2 == conn.gen);
            if !pending_delayed || h.eof {
                conn.dead = true;
            }
        }
        capped && !conn.dead
    }

    fn service_ws(&mut self, i: usize, conn: &mut Conn) {
        loop {
            let State::Ws(w) = &mut conn.state else {
                return;
            };
            match w.ws.read() {
                Ok(Message::Text(t)) => {
                    let read_at = w.ws.get_ref().last_read();
                    self.stats.ws_in.fetch_add(1, Ordering::Relaxed);
                    conn.last_in = Instant::now();
                    self.handle_ws_text(i, conn, t.as_bytes(), read_at);
                }
                Ok(Message::Binary(b)) => {
                    let read_at = w.ws.get_ref().last_read();
                    self.stats.ws_in.fetch_add(1, Ordering::Relaxed);
                    conn.last_in = Instant::now();
                    self.handle_ws_text(i, conn, &b, read_at);
                }
                // A protocol-level ping (or any other frame) is a heartbeat too.
                Ok(_) => conn.last_in = Instant::now(),
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => {
                    continue
                }
                Err(
                    tungstenite::Error::Protocol(_)
                    | tungstenite::Error::Utf8(_)
                    | tungstenite::Error::Capacity(_),
                ) => {
                    conn.dead = true;
                    return;
                }
                Err(_) => {
                    conn.dead = true;
                    return;
                }
            }
        }
        let State::Ws(w) = &mut conn.state else {
            return;
        };
        flush_ws(w, &mut conn.dead);
    }

    fn ws_reply(&mut self, i: usize, conn: &mut Conn, text: String, delayable: bool) {
        if delayable && !self.faults.delay.is_zero() {
            self.delayed.push_back((
                Instant::now() + self.faults.delay,
                i,
                conn.gen,
                Delayed::Text(text),
            ));
            return;
        }
        if let State::Ws(w) = &mut conn.state {
            write_ws(w, Message::text(text), &mut conn.dead);
        }
    }

    fn handle_ws_text(&mut self, i: usize, conn: &mut Conn, text: &[u8], read_at: Tsc) {
        let State::Ws(w) = &conn.state else { return };
        let kind = w.kind;
        let cid = conn.id.clone();
        let now = wall();
        let msg = match ws::parse_client(text) {
            Ok(m) => m,
            Err(e) => {
                self.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
                let reply = match kind {
                    WsKind::Trade => ws::trade_simple("", 10001, &e.to_string(), None, &cid),
                    _ => ws::sub_ack(kind, "", false, &format!("error:{e}"), None, &cid),
                };
                self.ws_reply(i, conn, reply, false);
                return;
            }
        };
        let rid = msg.req_id.as_deref();
        match (kind, msg.op.as_str()) {
            (_, "ping") => {
                let r = ws::pong(kind, rid, &cid, now);
                self.ws_reply(i, conn, r, false);
            }
            (WsKind::Public(cat), "subscribe") => {
                self.public_subscribe(i, conn, cat, &msg.args, rid)
            }
            (WsKind::Public(_), "unsubscribe") => {
                let mut bad = Vec::new();
                for a in &msg.args {
                    let Some(topic) = a.as_str() else {
                        bad.push(a.to_string());
                        continue;
                    };
                    let State::Ws(w) = &mut conn.state else {
                        return;
                    };
                    let found = w
                        .topics
                        .iter()
                        .copied()
                        .find(|t| self.topics.get(t).is_some_and(|info| info.name == topic));
                    match found {
                        Some(t) => {
                            w.topics.retain(|x| *x != t);
                            self.unsubscribe(t, i);
                        }
                        None => bad.push(topic.to_string()),
                    }
                }
                let ok = bad.is_empty();
                let r = ws::sub_ack(
                    kind,
                    "unsubscribe",
                    ok,
                    &format!("error:not subscribed,topic:{}", bad.join(",")),
                    rid,
                    &cid,
                );
                if !ok {
                    self.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
                }
                self.ws_reply(i, conn, r, false);
            }
            (WsKind::Private, "auth") | (WsKind::Trade, "auth") => {
                self.ws_auth(i, conn, kind, &msg.args, rid, now)
            }
            (WsKind::Private, "subscribe") | (WsKind::Private, "unsubscribe") => {
                let State::Ws(w) = &mut conn.state else {
                    return;
                };
                if w.uid.is_none() {
                    self.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
                    let r = ws::sub_ack(kind, &msg.op, false, "Request not authorized", rid, &cid);
                    self.ws_reply(i, conn, r, false);
                    return;
                }
                let mut bad = Vec::new();
                for a in &msg.args {
                    match a.as_str().and_then(ws::parse_private_topic) {
                        Some(t) if msg.op == "subscribe" => {
                            if !w.private_subs.contains(&t) {
                                w.private_subs.push(t);
                            }
                        }
                        Some(t) => w.private_subs.retain(|x| *x != t),
                        None => bad.push(a.as_str().map_or_else(|| a.to_string(), str::to_string)),
                    }
                }
                if msg.op == "subscribe" && self.faults.refuse_private_subscribe {
                    w.private_subs.clear();
                    bad.push("refused".to_string());
                }
                let ok = bad.is_empty() && !msg.args.is_empty();
                if !ok {
                    self.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
                }
                let r = ws::sub_ack(
                    kind,
                    &msg.op,
                    ok,
                    &format!("error:handler not found,topic:{}", bad.join(",")),
                    rid,
                    &cid,
                );
                self.ws_reply(i, conn, r, false);
            }
            (WsKind::Trade, op) => self.trade_request(i, conn, op, &msg, read_at, now),
            (_, op) => {
                self.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
                let r = ws::sub_ack(
                    kind,
                    op,
                    false,
                    &format!("error:unknown op,op:{op}"),
                    rid,
                    &cid,
                );
                self.ws_reply(i, conn, r, false);
            }
        }
    }

    fn public_subscribe(
        &mut self,
        i: usize,
        conn: &mut Conn,
        cat: Category,
        args: &[Value],
        rid: Option<&str>,
    ) {
        let cid = conn.id.clone();
        let now = wall();
        let mut bad: Vec<String> = Vec::new();
        let mut fresh: Vec<TopicId> = Vec::new();
        // This subscriber's stream starts after every frame produced so far, sent or not: its
        // snapshot below is taken from the current book, which already contains them.
        let from = self.pub_drained + self.ex.pending_public() as u64;
        for a in args {
            let Some(name) = a.as_str() else {
                bad.push(a.to_string());
                continue;
            };
            match self.ex.open_topic(cat, name) {
                Ok(t) => {
                    let State::Ws(w) = &mut conn.state else {
                        return;
                    };
                    if w.topics.contains(&t) {
                        bad.push(name.to_string());
                        continue;
                    }
                    w.topics.push(t);
                    let sym = name.rsplit('.').next().unwrap_or("").to_string();
                    let info = match self.topics.entry(t) {
                        Entry::Occupied(o) => o.into_mut(),
                        Entry::Vacant(v) => {
                            // A topic opened afresh (first subscriber, or again after the last one
                            // left) starts its `u` sequence over: stamps of the old sequence would
                            // match the new `u` values, so forget them.
                            if name.starts_with("orderbook.") {
                                self.reactions.stamps.clear();
                            }
                            v.insert(TopicInfo {
                                name: name.to_string(),
                                category: cat,
                                symbol: sym,
                                subs: Vec::new(),
                            })
                        }
                    };
                    info.subs.push(Sub { conn: i, from });
                    fresh.push(t);
                }
                Err(_) => bad.push(name.to_string()),
            }
        }
        let ok = bad.is_empty() && !args.is_empty();
        if !ok {
            self.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
        }
        let r = ws::sub_ack(
            WsKind::Public(cat),
            "subscribe",
            ok,
            &format!("error:handler not found,topic:{}", bad.join(",")),
            rid,
            &cid,
        );
        self.ws_reply(i, conn, r, false);
        // Earlier market output goes out before this snapshot: to the existing subscribers, and to
        // this connection for the topics it already had (not for the new ones: see `Sub::from`).
        self.drain_and_fanout_public(Some((i, &mut *conn)));
        let mut buf = Vec::new();
        for t in fresh {
            buf.clear();
            if self.ex.snapshot_message(t, now, &mut buf) {
                let u = measure::scan_u(&buf);
                if let (Ok(text), State::Ws(w)) = (
                    Utf8Bytes::try_from(std::mem::take(&mut buf)),
                    &mut conn.state,
                ) {
                    write_ws(w, Message::Text(text), &mut conn.dead);
                    self.stats.public_out.fetch_add(1, Ordering::Relaxed);
                    if let Some(u) = u {
                        self.reactions.stamps.record(u, self.clock.stamp());
                    }
                }
            }
        }
    }

    fn ws_auth(
        &mut self,
        i: usize,
        conn: &mut Conn,
        kind: WsKind,
        args: &[Value],
        rid: Option<&str>,
        now: u64,
    ) {
        let cid = conn.id.clone();
        let already = matches!(&conn.state, State::Ws(w) if w.uid.is_some());
        let res = match (
            args.first().and_then(Value::as_str),
            args.get(1),
            args.get(2).and_then(Value::as_str),
        ) {
            (Some(key), Some(exp), Some(sig)) => {
                let expires = exp
                    .as_u64()
                    .or_else(|| exp.as_str().and_then(|s| s.parse().ok()));
                match expires {
                    Some(e) => auth::check_ws_auth(key, e, sig, now, |k| self.ex.account_by_key(k)),
                    None => Err(auth::AuthError::Params),
                }
            }
            _ => Err(auth::AuthError::Params),
        };
        let refused = match kind {
            WsKind::Trade => ConnKind::Trade,
            _ => ConnKind::Private,
        };
        let res = if self.faults.refuse_auth.contains(&refused) {
            Err(auth::AuthError::UnknownKey)
        } else {
            res
        };
        if res.is_err() {
            self.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
        }
        let reply = match kind {
            WsKind::Trade => match res {
                _ if already => ws::trade_simple("auth", 20001, "Repeat auth", rid, &cid),
                Ok(_) => ws::trade_simple("auth", 0, "OK", rid, &cid),
                Err(e) => ws::trade_simple("auth", e.code(), &e.message(), rid, &cid),
            },
            _ => match res {
                _ if already => ws::private_auth_reply(false, "Repeat auth", rid, &cid),
                Ok(_) => ws::private_auth_reply(true, "", rid, &cid),
                Err(e) => ws::private_auth_reply(false, &e.message(), rid, &cid),
            },
        };
        if let (Ok(uid), State::Ws(w), false) = (res, &mut conn.state, already) {
            w.uid = Some(uid);
        }
        self.ws_reply(i, conn, reply, false);
    }

    fn trade_request(
        &mut self,
        i: usize,
        conn: &mut Conn,
        op: &str,
        msg: &ws::ClientMsg,
        read_at: Tsc,
        now: u64,
    ) {
        let cid = conn.id.clone();
        let rid = msg.req_id.as_deref();
        let State::Ws(w) = &mut conn.state else {
            return;
        };
        let Some((xop, ep)) = ws::trade_op(op) else {
            self.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
            let r = ws::trade_simple(op, 10404, &format!("unknown op: {op}"), rid, &cid);
            self.ws_reply(i, conn, r, false);
            return;
        };
        let Some(uid) = w.uid else {
            self.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
            let r = ws::trade_simple(
                op,
                10003,
                "Request not authorized: send auth first",
                rid,
                &cid,
            );
            self.ws_reply(i, conn, r, false);
            return;
        };
        if let Some(r) = rid {
            if r.len() > 36 || !w.req_ids.insert(r.to_string()) {
                self.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
                let text = if r.len() > 36 {
                    ws::trade_simple(op, 10001, "reqId longer than 36 characters", rid, &cid)
                } else {
                    ws::trade_simple(op, 20006, "reqId is duplicated", rid, &cid)
                };
                self.ws_reply(i, conn, text, false);
                return;
            }
        }
        let hdr_text = |k: &str| -> Option<String> {
            let v = msg
                .header
                .as_ref()?
                .iter()
                .find(|(hk, _)| hk.eq_ignore_ascii_case(k))?
                .1
                .clone();
            match v {
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let ts = hdr_text("X-BAPI-TIMESTAMP");
        let rw = hdr_text("X-BAPI-RECV-WINDOW");
        let ts_check = match &ts {
            Some(t) => auth::check_timestamp(t.as_bytes(), rw.as_deref().map(str::as_bytes), now)
                .map(|_| ()),
            None => Err(auth::AuthError::Timestamp {
                req_ts: 0,
                server_ts: now,
                recv_window: auth::DEFAULT_RECV_WINDOW,
            }),
        };
        if let Err(e) = ts_check {
            self.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
            let r = ws::trade_simple(op, e.code(), &e.message(), rid, &cid);
            self.ws_reply(i, conn, r, false);
            return;
        }
        let params = match msg.args.as_slice() {
            [p @ Value::Object(_)] => p.clone(),
            _ => {
                self.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
                let r = ws::trade_simple(op, 10001, "args must hold exactly one object", rid, &cid);
                self.ws_reply(i, conn, r, false);
                return;
            }
        };
        let tag = rid
            .filter(|r| measure::parse_echo_tag(r).is_some())
            .or_else(|| link_id_of(&params));
        if let Some(tag) = tag {
            self.reactions.react("ws-trade", tag, read_at);
        }
        let out = self.order_path(uid, xop, ep, params, now);
        self.trace += 1;
        let limit = out.grant.map(|grant| LimitInfo {
            grant,
            now_ms: now,
            trace: self.trace,
        });
        let r = out.reply;
        let text = ws::trade_response(
            op,
            r.ret_code,
            &r.ret_msg,
            r.result,
            r.ret_ext_info,
            limit.as_ref(),
            rid,
            &cid,
        );
        self.ws_reply(i, conn, text, true);
    }

    /// Rate limiting (with batch prefix semantics), forced-10006 faults, then the exchange.
    fn order_path(
        &mut self,
        uid: u64,
        op: Op,
        ep: Endpoint,
        mut params: Value,
        now: u64,
    ) -> Outcome {
        let cat = category_of(&params);
        let n_items = if is_batch(ep) {
            params
                .get("request")
                .and_then(Value::as_array)
                .map_or(1, |a| a.len().max(1)) as u32
        } else {
            1
        };
        let forced = matches!(
            op,
            Op::Create
                | Op::Amend
                | Op::Cancel
                | Op::CancelAll
                | Op::CreateBatch
                | Op::AmendBatch
                | Op::CancelBatch
        ) && self.faults.take_10006();
        let grant = if forced {
            Grant {
                granted: 0,
                limit: crate::sim::ratelimit::default_limit(ep, cat),
                remaining: 0,
                reset_ms: now + 1000,
            }
        } else {
            self.rl.take(uid, ep, cat, n_items, now)
        };
        if grant.granted == 0 {
            self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            let reply = Reply {
                ret_code: 10006,
                ret_msg: "Too many visits!".into(),
                result: json!({}),
                ret_ext_info: json!({}),
            };
            return Outcome {
                reply,
                grant: Some(grant),
            };
        }
        if grant.granted < n_items {
            // Batch: the first `granted` items go through; the rest fail individually with 10006.
            let mut refused: Vec<Value> = Vec::new();
            if let Some(Value::Array(list)) = params.get_mut("request") {
                refused = list.split_off(grant.granted as usize);
            }
            let mut reply = self.ex.request(Some(uid), op, &params, now);
            let sym_cat = params.get("category").cloned().unwrap_or(Value::Null);
            if let Some(Value::Array(l)) = reply.result.get_mut("list") {
                for it in &refused {
                    l.push(json!({
                        "category": sym_cat, "symbol": it.get("symbol").cloned().unwrap_or(Value::Null),
                        "orderId": "", "orderLinkId": it.get("orderLinkId").cloned().unwrap_or_else(|| json!("")),
                    }));
                }
            }
            if let Some(Value::Array(l)) = reply.ret_ext_info.get_mut("list") {
                for _ in &refused {
                    l.push(json!({"code": 10006, "msg": "Too many visits!"}));
                }
            }
            self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            return Outcome {
                reply,
                grant: Some(grant),
            };
        }
        Outcome {
            reply: self.ex.request(Some(uid), op, &params, now),
            grant: Some(grant),
        }
    }

    fn handle_rest(
        &mut self,
        req: &Request<'_>,
        read_at: Tsc,
    ) -> (u16, Vec<(&'static str, String)>, Vec<u8>) {
        let now = wall();
        let bad = |s: &Self, status: u16, code: i64, msg: &str| {
            s.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
            (
                status,
                Vec::new(),
                envelope(code, msg, json!({}), json!({}), now),
            )
        };
        if self.faults.take_5xx() {
            return (
                503,
                Vec::new(),
                envelope(
                    10016,
                    "Service Unavailable (injected fault)",
                    json!({}),
                    json!({}),
                    now,
                ),
            );
        }
        let Some((method, op, ep)) = rest_route(req.path) else {
            return bad(self, 404, 10001, "unknown path");
        };
        if req.method != method {
            return bad(self, 405, 10001, "method not allowed for this path");
        }
        let params = match method {
            Method::Get => match query_params(req.query) {
                Some(p) => p,
                None => return bad(self, 400, 10001, "query string is not valid UTF-8"),
            },
            _ => match serde_json::from_slice::<Value>(req.body) {
                Ok(v @ Value::Object(_)) => v,
                _ => return bad(self, 200, 10001, "request body is not a valid json object"),
            },
        };
        let Some(ep) = ep else {
            let r = self.ex.request(None, op, &params, now);
            return (
                200,
                vec![("Timenow", now.to_string())],
                envelope(r.ret_code, &r.ret_msg, r.result, r.ret_ext_info, now),
            );
        };
        let payload = if method == Method::Get {
            req.query
        } else {
            req.body
        };
        let hdrs = auth::RestAuthHeaders {
            api_key: req.header("X-BAPI-API-KEY"),
            timestamp: req.header("X-BAPI-TIMESTAMP"),
            sign: req.header("X-BAPI-SIGN"),
            recv_window: req.header("X-BAPI-RECV-WINDOW"),
        };
        let uid = match auth::check_rest(&hdrs, payload, now, |k| self.ex.account_by_key(k)) {
            Ok(u) => u,
            Err(e) => {
                let (s, h, b) = bad(self, 200, e.code(), &e.message());
                return (s, h, b);
            }
        };
        if matches!(
            op,
            Op::Create
                | Op::Amend
                | Op::Cancel
                | Op::CreateBatch
                | Op::AmendBatch
                | Op::CancelBatch
        ) {
            // The measuring tag: the `X-Gapmm-Tag` header, else the orderLinkId.
            let tag = req
                .header_str("X-Gapmm-Tag")
                .map(str::to_string)
                .or_else(|| link_id_of(&params).map(str::to_string));
            if let Some(tag) = tag {
                self.reactions.react("rest", &tag, read_at);
            }
        }
        let out = self.order_path(uid, op, ep, params, now);
        self.trace += 1;
        let mut headers = vec![
            ("Traceid", format!("{:032x}", self.trace)),
            ("Timenow", now.to_string()),
        ];
        if let Some(g) = out.grant {
            headers.push(("X-Bapi-Limit", g.limit.to_string()));
            headers.push(("X-Bapi-Limit-Status", g.remaining.to_string()));
            headers.push(("X-Bapi-Limit-Reset-Timestamp", g.reset_ms.to_string()));
        }
        let r = out.reply;
        (
            200,
            headers,
            envelope(r.ret_code, &r.ret_msg, r.result, r.ret_ext_info, now),
        )
    }

    fn send_text(&mut self, i: usize, text: String) {
        if let Some(Some(c)) = self.conns.get_mut(i) {
            if let State::Ws(w) = &mut c.state {
                write_ws(w, Message::text(text), &mut c.dead);
            }
        }
    }

    fn send_delayed(&mut self) {
        let now = Instant::now();
        while self.delayed.front().is_some_and(|d| d.0 <= now) {
            let Some((_, i, gen, d)) = self.delayed.pop_front() else {
                break;
            };
            let Some(Some(c)) = self.conns.get_mut(i) else {
                continue;
            };
            if c.gen != gen {
                continue;
            }
            match (d, &mut c.state) {
                (Delayed::Http(bytes, close), State::Http(h)) => {
                    h.out.extend_from_slice(&bytes);
                    if close {
                        h.close_after = true;
                    }
                    if flush_http(h).is_err() {
                        c.dead = true;
                    } else if close && h.out.is_empty() && !h.stream.wants_write() {
                        // Fully written: close now (no further event may come for this socket).
                        c.dead = true;
                    }
                }
                (Delayed::Text(t), State::Ws(w)) => write_ws(w, Message::text(t), &mut c.dead),
                _ => {}
            }
        }
    }

    fn pump_market(&mut self) {
        let now = Instant::now();
        if self.faults.stalled(now) {
            return;
        }
        match self.pace {
            Pace::Natural => {
                let w = wall();
                if self.market_due.is_none_or(|d| d <= w) {
                    let (n, next) = self.ex.step(w, self.max_events);
                    self.stats
                        .market_events
                        .fetch_add(n as u64, Ordering::Relaxed);
                    self.market_due = next;
                    self.market_exhausted = next.is_none();
                }
                self.drain_and_fanout_public(None);
            }
            Pace::Every(d) => {
                if now >= self.next_tick {
                    let t = self.market_due.unwrap_or_else(wall).max(self.virtual_ms);
                    let (n, next) = self.ex.step(t, 1);
                    self.stats
                        .market_events
                        .fetch_add(n as u64, Ordering::Relaxed);
                    self.virtual_ms = t;
                    self.market_due = next;
                    self.market_exhausted = next.is_none();
                    self.next_tick += d;
                    if self.next_tick < now {
                        self.next_tick = now + d;
                    }
                }
                self.drain_and_fanout_public(None);
            }
            Pace::Flood => {
                // Up to 64 events per batch, one flush per subscriber per batch.
                for _ in 0..16 {
                    if !self.flood_ready() {
                        break;
                    }
                    for _ in 0..64 {
                        let t = self.market_due.unwrap_or_else(wall).max(self.virtual_ms);
                        let (n, next) = self.ex.step(t, 1);
                        self.stats
                            .market_events
                            .fetch_add(n as u64, Ordering::Relaxed);
                        self.virtual_ms = t;
                        self.market_due = next;
                        self.market_exhausted = next.is_none();
                        if self.market_exhausted {
                            break;
                        }
                    }
                    self.drain_and_fanout_public(None);
                }
                self.drain_and_fanout_public(None);
            }
            Pace::Paused => self.drain_and_fanout_public(None),
        }
    }

    /// Sends every pending public frame to its topic's subscribers. `held` is a connection currently
    /// taken out of the slab (being serviced) that must also receive its frames.
    fn drain_and_fanout_public(&mut self, mut held: Option<(usize, &mut Conn)>) {
        if self.faults.stall_until.is_some() {
            return;
        }
        let mut outs = std::mem::take(&mut self.pub_scratch);
        self.ex.drain_public(&mut outs);
        if outs.items.is_empty() {
            self.pub_scratch = outs;
            return;
        }
        let mut touched = std::mem::take(&mut self.touched);
        let mut to_stamp = std::mem::take(&mut self.to_stamp);
        let first_ordinal = self.pub_drained;
        self.pub_drained += outs.items.len() as u64;
        for (k, o) in outs.items.iter().enumerate() {
            let ordinal = first_ordinal + k as u64;
            let Some(info) = self.topics.get(&o.topic) else {
                continue;
            };
            if info.subs.is_empty() {
                continue;
            }
            let Some(frame) = outs.bytes.get(o.range.clone()) else {
                continue;
            };
            let Ok(text) = Utf8Bytes::try_from(tungstenite::Bytes::copy_from_slice(frame)) else {
                continue;
            };
            let mut first = true;
            for sub in &info.subs {
                if ordinal < sub.from {
                    // Older than this subscriber's snapshot.
                    continue;
                }
                let s = sub.conn;
                let conn = match &mut held {
                    Some((hi, c)) if *hi == s => Some(&mut **c),
                    _ => self.conns.get_mut(s).and_then(Option::as_mut),
                };
                let Some(c) = conn else { continue };
                let State::Ws(w) = &mut c.state else { continue };
                if c.dead || w.muted {
                    continue;
                }
                // Queue only; every touched socket is flushed once after the batch.
                match w.ws.write(Message::Text(text.clone())) {
                    Ok(()) => {}
                    Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                        w.blocked = true
                    }
                    Err(_) => c.dead = true,
                }
                if !touched.contains(&s) {
                    touched.push(s);
                }
                self.stats.public_out.fetch_add(1, Ordering::Relaxed);
                if first {
                    if let Some(u) = o.update_id {
                        to_stamp.push(u);
                    }
                    first = false;
                }
            }
        }
        for &s in &touched {
            let conn = match &mut held {
                Some((hi, c)) if *hi == s => Some(&mut **c),
                _ => self.conns.get_mut(s).and_then(Option::as_mut),
            };
            if let Some(c) = conn {
                if let State::Ws(w) = &mut c.state {
                    flush_ws(w, &mut c.dead);
                }
            }
        }
        // Stamped once the batch has been handed to the kernel (in the paced mode a batch is one
        // message, so this is the moment that message went out).
        let at = self.clock.stamp();
        for &u in &to_stamp {
            self.reactions.stamps.record(u, at);
        }
        touched.clear();
        to_stamp.clear();
        self.touched = touched;
        self.to_stamp = to_stamp;
        self.pub_scratch = outs;
    }

    fn fanout_private(&mut self) {
        let mut outs = std::mem::take(&mut self.priv_scratch);
        self.ex.drain_private(&mut outs);
        for o in &outs.items {
            let base = private_base(o.topic);
            let Some(frame) = outs.bytes.get(o.range.clone()) else {
                continue;
            };
            let Ok(text) = Utf8Bytes::try_from(tungstenite::Bytes::copy_from_slice(frame)) else {
                continue;
            };
            for c in self.conns.iter_mut().flatten() {
                let State::Ws(w) = &mut c.state else { continue };
                if w.kind != WsKind::Private || w.uid != Some(o.uid) || c.dead {
                    continue;
                }
                let wanted = w.private_subs.iter().any(|(b, cat)| {
                    *b == base && (cat.is_none() || o.category.is_none() || *cat == o.category)
                });
                if wanted {
                    write_ws(w, Message::Text(text.clone()), &mut c.dead);
                    self.stats.private_out.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.priv_scratch = outs;
    }
}

fn flush_http(h: &mut HttpConn) -> io::Result<()> {
    while !h.out.is_empty() {
        match h.stream.write(&h.out) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                h.out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    match h.stream.flush() {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        Err(e) => Err(e),
    }
}

fn write_ws(w: &mut WsConn, m: Message, dead: &mut bool) {
    if w.muted {
        return;
    }
    match w.ws.write(m) {
        Ok(()) => {}
        Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
            w.blocked = true;
            return;
        }
        Err(_) => {
            *dead = true;
            return;
        }
    }
    flush_ws(w, dead);
}

fn flush_ws(w: &mut WsConn, dead: &mut bool) {
    match w.ws.flush() {
        Ok(()) => w.blocked = false,
        Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => w.blocked = true,
        Err(_) => *dead = true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_become_json_objects_of_strings() {
        let v =
            query_params(b"category=linear&symbol=BTCUSDT&cursor=a%3Db%26&empty=&flag").unwrap();
        assert_eq!(
            v,
            json!({"category": "linear", "symbol": "BTCUSDT", "cursor": "a=b&", "empty": "", "flag": ""})
        );
        assert_eq!(query_params(b"").unwrap(), json!({}));
        assert!(query_params(&[0xff, 0xfe]).is_none());
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn routes_and_attribution_ids() {
        assert_eq!(
            rest_route(b"/v5/order/create").map(|r| r.1),
            Some(Op::Create)
        );
        assert_eq!(
            rest_route(b"/v5/market/time").map(|r| r.0),
            Some(Method::Get)
        );
        assert!(rest_route(b"/v5/order/create/").is_none());
        let single = json!({"orderLinkId": "mm-1-77"});
        assert_eq!(link_id_of(&single), Some("mm-1-77"));
        let batch = json!({"request": [{"orderLinkId": "mm-2-78"}, {"orderLinkId": "x"}]});
        assert_eq!(link_id_of(&batch), Some("mm-2-78"));
        assert_eq!(
            category_of(&json!({"category": "spot"})),
            Some(Category::Spot)
        );
        assert_eq!(category_of(&json!({"category": "option"})), None);
    }
}
