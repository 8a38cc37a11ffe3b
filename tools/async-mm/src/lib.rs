//! gapmm-async: the async (tokio) baseline of gap-mm, built the way the original system was.
//!
//! It shares the core's [`gapmm::book::Book`], [`gapmm::analytics::compute`] and
//! [`gapmm::strategy::Strategy`] with gapmm-hot, so only I/O, decoding and scheduling differ:
//!
//! - a market task reads the public WebSocket (tokio-tungstenite), decodes each frame with
//!   `serde_json` into borrowed structs, converts the decimal strings to ticks/lots with the
//!   instrument's [`Step`]s, applies the update to the book and runs analytics + strategy;
//! - the target goes through a tokio `mpsc` channel to an order task, which sends the bid and the
//!   ask **concurrently** (`tokio::join!`): over the WS trade API (amend when an order exists, else a
//!   PostOnly create) or over REST with one keep-alive `reqwest` client. It gates requests as
//!   gapmm-hot's order manager does, so both decide to send on the same ticks: it acts on the
//!   newest target only, a side whose target price equals the last one sent is not sent again, a
//!   side with an unanswered request waits for the answer, and every request takes a unit of
//!   [`gapmm::oms::RateBudget`] with Bybit's default limits. A target the gate refuses is held
//!   and sent as soon as the gate allows (checked every millisecond), tagged `-0`: like
//!   gapmm-hot's held requests it is not a reaction to a tick;
//! - a reader task (WS transport) consumes the trade replies and remembers order ids.
//!
//! Echo convention of the simulator's measuring point ([`gapmm::sim::measure`]): every order request
//! carries `<variant>-<side><seq>-<u>` in its `reqId` (WS) or `orderLinkId` (REST), where `u` is the
//! update id of the orderbook message that caused it. REST amends address the order by `orderId` and
//! carry the tag in `orderLinkId` (the simulator looks the order up by `orderId` first; whether real
//! Bybit accepts both fields on an amend has not been checked).
//!
//! Contract: this is a baseline, not a hot path. It allocates per message (serde_json, `String`s,
//! `Vec`s), uses a `std::sync::Mutex` for the order-id state and sleeps in epoll via tokio when idle.
//! Times are exchange milliseconds from the messages and wall-clock ms for request timestamps.

#![warn(missing_docs)]

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gapmm::analytics;
use gapmm::book::{Book, BookConfig};
use gapmm::codec::public::{BookKind, BookUpdate, Level};
use gapmm::codec::sign::{Credentials, Signer};
use gapmm::ids::{Category, Seq, Symbol, UpdateId};
use gapmm::oms::{Endpoint, RateBudget, RateLimits};
use gapmm::strategy::{Strategy, StrategyParams, Target};
use gapmm::time::{wall_ms, ExchMs};
use gapmm::units::{Side, Step, Ticks};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Which tokio runtime drives the tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// `new_multi_thread()` with one worker per CPU.
    Multi,
    /// `new_current_thread()`: every task on the calling thread.
    Current,
}

impl RuntimeKind {
    /// `multi` or `current`.
    pub fn parse(s: &str) -> Option<RuntimeKind> {
        match s {
            "multi" => Some(RuntimeKind::Multi),
            "current" => Some(RuntimeKind::Current),
            _ => None,
        }
    }
}

/// How orders are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Bybit's WebSocket trade API (`/v5/trade`).
    Ws,
    /// REST `POST /v5/order/{create,amend}` over one keep-alive HTTP/1.1 client.
    Rest,
}

impl Transport {
    /// `ws` or `rest`.
    pub fn parse(s: &str) -> Option<Transport> {
        match s {
            "ws" => Some(Transport::Ws),
            "rest" => Some(Transport::Rest),
            _ => None,
        }
    }
}

/// Everything one run needs.
#[derive(Clone)]
pub struct Config {
    /// REST base, e.g. `http://127.0.0.1:9000`.
    pub http_url: String,
    /// WebSocket base, e.g. `ws://127.0.0.1:9000`.
    pub ws_url: String,
    /// API key.
    pub api_key: String,
    /// API secret (never printed).
    pub api_secret: String,
    /// Symbol to quote.
    pub symbol: String,
    /// Spot or linear.
    pub category: Category,
    /// Price step, e.g. `0.1`.
    pub tick_size: String,
    /// Quantity step, e.g. `0.001`.
    pub qty_step: String,
    /// Order quantity as a decimal, e.g. `0.001`.
    pub qty: String,
    /// Orderbook depth to subscribe.
    pub depth: u16,
    /// Variant name filed by the simulator (must not contain `-`).
    pub variant: String,
    /// Order transport.
    pub transport: Transport,
    /// Stop after this many orderbook messages have been handled (None = no limit).
    pub max_ticks: Option<u64>,
    /// Stop after this long (None = no limit).
    pub duration: Option<Duration>,
    /// Multiplies the rate budget (Bybit's per-UID limits; 1 = as Bybit), as
    /// gapmm-hot's `--sim-budget-scale` does, for a simulator with scaled limits.
    pub budget_scale: u32,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("http_url", &self.http_url)
            .field("ws_url", &self.ws_url)
            .field("api_key", &self.api_key)
            .field("api_secret", &"<redacted>")
            .field("symbol", &self.symbol)
            .field("category", &self.category)
            .field("variant", &self.variant)
            .field("transport", &self.transport)
            .field("max_ticks", &self.max_ticks)
            .field("duration", &self.duration)
            .finish_non_exhaustive()
    }
}

/// What went wrong in a run.
#[derive(Debug)]
pub enum AsyncError {
    /// A configuration value is unusable (`&'static str` says which).
    Config(&'static str),
    /// Connecting, the handshake or a socket operation failed.
    Io(&'static str, String),
    /// The trade WebSocket refused our auth.
    Auth(String),
}

impl fmt::Display for AsyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsyncError::Config(w) => write!(f, "bad configuration: {w}"),
            AsyncError::Io(w, e) => write!(f, "{w}: {e}"),
            AsyncError::Auth(r) => write!(f, "trade auth rejected: {r}"),
        }
    }
}

impl std::error::Error for AsyncError {}

/// Counters of a finished run.
#[derive(Debug, Default)]
pub struct RunStats {
    /// Orderbook messages handled.
    pub ticks: AtomicU64,
    /// Order requests sent.
    pub sent: AtomicU64,
    /// Replies received (WS trade replies or REST responses).
    pub replies: AtomicU64,
    /// Replies with a non-zero `retCode` (post-only rejects, not-modified amends, …).
    pub rejected: AtomicU64,
    /// Frames that failed to decode or apply.
    pub bad_frames: AtomicU64,
    /// Side targets not sent: a request of that side was unanswered, or the rate budget was spent.
    pub held: AtomicU64,
}

/// One orderbook WS message, borrowed from the frame.
#[derive(Deserialize)]
struct PublicMsg<'a> {
    #[serde(borrow, default)]
    topic: Option<&'a str>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(default)]
    ts: Option<u64>,
    #[serde(default)]
    cts: Option<u64>,
    #[serde(borrow, default)]
    data: Option<BookData<'a>>,
}

#[derive(Deserialize)]
struct BookData<'a> {
    #[serde(borrow)]
    s: &'a str,
    #[serde(borrow)]
    b: Vec<[&'a str; 2]>,
    #[serde(borrow)]
    a: Vec<[&'a str; 2]>,
    u: u64,
    #[serde(default)]
    seq: u64,
}

/// Decodes a frame and applies it to `book`. Returns the update's `u` and exchange time when the
/// frame was an orderbook message that applied cleanly, `Ok(None)` for other frames.
pub fn apply_frame(
    frame: &str,
    book: &mut Book,
    price: Step,
    qty: Step,
) -> Result<Option<(u64, ExchMs)>, &'static str> {
    let msg: PublicMsg<'_> = serde_json::from_str(frame).map_err(|_| "json")?;
    let (Some(topic), Some(data)) = (msg.topic, msg.data) else {
        return Ok(None);
    };
    if !topic.starts_with("orderbook.") {
        return Ok(None);
    }
    let depth = topic
        .split('.')
        .nth(1)
        .and_then(|d| d.parse::<u16>().ok())
        .ok_or("topic depth")?;
    let conv = |levels: &[[&str; 2]]| -> Result<Vec<Level>, &'static str> {
        levels
            .iter()
            .map(|[p, q]| {
                Ok(Level {
                    price: price.ticks(p.as_bytes()).map_err(|_| "price")?,
                    qty: qty.lots(q.as_bytes()).map_err(|_| "qty")?,
                })
            })
            .collect()
    };
    let bids = conv(&data.b)?;
    let asks = conv(&data.a)?;
    let kind = match msg.kind {
        Some("snapshot") => BookKind::Snapshot,
        Some("delta") => BookKind::Delta,
        _ => return Err("type"),
    };
    let ts = ExchMs(msg.ts.ok_or("ts")?);
    let update = BookUpdate {
        kind,
        depth,
        symbol: Symbol::from_str(data.s).map_err(|_| "symbol")?,
        u: UpdateId(data.u),
        seq: Seq(data.seq),
        ts,
        cts: msg.cts.map(ExchMs),
        bids: &bids,
        asks: &asks,
    };
    book.apply(&update).map_err(|_| "book")?;
    Ok(Some((data.u, ts)))
}

/// The work order handed from the market task to the order task.
#[derive(Debug, Clone, Copy)]
pub struct Quote {
    /// Target prices.
    pub target: Target,
    /// Update id of the message that produced it.
    pub u: u64,
}

/// Runs the market → strategy part on one frame: book, analytics, strategy.
pub fn on_frame(
    frame: &str,
    book: &mut Book,
    strategy: &mut Strategy,
    price: Step,
    qty: Step,
) -> Result<Option<Quote>, &'static str> {
    let Some((u, ts)) = apply_frame(frame, book, price, qty)? else {
        return Ok(None);
    };
    let Some(m) = analytics::compute(book, ts) else {
        return Ok(None);
    };
    let target = strategy
        .on_market(m.bid, m.ask, m.mid, m.gap_prob_resistance_up, ts)
        .map_err(|_| "strategy")?;
    Ok(Some(Quote { target, u }))
}

#[derive(Debug, Default, Clone)]
struct SideState {
    order_id: Option<String>,
    creating: bool,
    /// A request for this side is unanswered: nothing more is sent for it
    /// until the answer arrives (gapmm-hot's order manager waits the same way).
    awaiting: bool,
    /// Price of the last request sent for this side (a side whose target is unchanged is not sent).
    last_sent: Option<Ticks>,
    /// A target the gate refused, sent as soon as the gate allows (not a reaction: tagged `-0`).
    held: Option<Ticks>,
}

/// The order task's state: both sides and the rate budget gapmm-hot's order
/// manager uses ([`RateBudget`] with Bybit's default limits), so both
/// engines decide to send on the same ticks.
#[derive(Debug)]
struct Gate {
    sides: [SideState; 2],
    budget: RateBudget,
    origin: std::time::Instant,
    /// Targets not sent because a request was unanswered or the budget was spent.
    held: u64,
}

impl Gate {
    fn new(category: Category, scale: u32) -> Gate {
        Gate {
            sides: Default::default(),
            budget: RateBudget::new(RateLimits::bybit_default(category).scaled(scale)),
            origin: std::time::Instant::now(),
            held: 0,
        }
    }
}

type Orders = Arc<Mutex<Gate>>;

fn idx(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

/// Codes meaning "this order no longer exists" (linear, spot).
fn order_gone(code: i64) -> bool {
    matches!(code, 110001 | 170213)
}

/// What the order task does for one side of one quote.
enum Action {
    Create,
    Amend(String),
    Skip,
}

/// Decides one side for target `px`. A target the gate refuses is held and
/// sent by [`plan_held`] once the gate allows, as gapmm-hot's order manager
/// sends what it held back; `fresh` counts the refusal (a retry does not).
fn plan(orders: &Orders, side: Side, px: Ticks, fresh: bool) -> Action {
    let Ok(mut g) = orders.lock() else {
        return Action::Skip;
    };
    let now = g.origin.elapsed().as_nanos() as u64;
    let g = &mut *g;
    let Some(s) = g.sides.get_mut(idx(side)) else {
        return Action::Skip;
    };
    let want = match (&s.order_id, s.creating) {
        (Some(_), _) if s.last_sent == Some(px) => {
            s.held = None;
            return Action::Skip;
        }
        (Some(id), _) => Action::Amend(id.clone()),
        (None, true) => return Action::Skip,
        (None, false) => Action::Create,
    };
    let ep = match want {
        Action::Create => Endpoint::Create,
        _ => Endpoint::Amend,
    };
    if s.awaiting || !g.budget.try_take(ep, 1, now) {
        s.held = Some(px);
        if fresh {
            g.held += 1;
        }
        return Action::Skip;
    }
    s.held = None;
    s.awaiting = true;
    s.creating |= matches!(want, Action::Create);
    s.last_sent = Some(px);
    want
}

/// The held target of one side, if the gate now lets it go.
fn plan_held(orders: &Orders, side: Side) -> Option<(Action, Ticks)> {
    let px = orders.lock().ok()?.sides.get(idx(side))?.held?;
    match plan(orders, side, px, false) {
        Action::Skip => None,
        a => Some((a, px)),
    }
}

/// One side's decision: the action, its price and the `u` it reacts to (0: not a reaction).
type Plan = (Side, Action, Ticks, u64);

/// The next decisions of the order task: on a new target (the newest one
/// waiting: gapmm-hot's order stage reads the latest too), both sides
/// reacting to its `u`; otherwise, every millisecond, what the gate now lets
/// go of the held targets. `None` when the market task has finished.
async fn next_plans(
    rx: &mut mpsc::Receiver<Quote>,
    orders: &Orders,
    retry: &mut tokio::time::Interval,
) -> Option<[Plan; 2]> {
    loop {
        tokio::select! {
            biased;
            m = rx.recv() => {
                let mut q = m?;
                while let Ok(newer) = rx.try_recv() {
                    q = newer;
                }
                let (b, a) = (q.target.bid, q.target.ask);
                return Some([
                    (Side::Buy, plan(orders, Side::Buy, b, true), b, q.u),
                    (Side::Sell, plan(orders, Side::Sell, a, true), a, q.u),
                ]);
            }
            _ = retry.tick() => {
                let plans = [Side::Buy, Side::Sell].map(|side| match plan_held(orders, side) {
                    Some((a, px)) => (side, a, px, 0),
                    None => (side, Action::Skip, Ticks(0), 0),
                });
                if plans.iter().any(|p| !matches!(p.1, Action::Skip)) {
                    return Some(plans);
                }
            }
        }
    }
}

fn retry_timer() -> tokio::time::Interval {
    let mut t = tokio::time::interval(Duration::from_millis(1));
    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    t
}

/// Applies a reply (`retCode`, `orderId` if any) to one side's state.
fn on_reply(orders: &Orders, side: Side, create: bool, code: i64, order_id: Option<&str>) {
    let Ok(mut g) = orders.lock() else { return };
    let Some(s) = g.sides.get_mut(idx(side)) else {
        return;
    };
    s.awaiting = false;
    if create {
        s.creating = false;
        if code == 0 {
            s.order_id = order_id.filter(|o| !o.is_empty()).map(str::to_string);
        }
    } else if order_gone(code) {
        s.order_id = None;
        s.last_sent = None;
    }
}

struct Inst {
    symbol: String,
    category: &'static str,
    price: Step,
    qty: String,
    spot: bool,
}

impl Inst {
    fn price_str(&self, t: Ticks) -> String {
        self.price.display(t.0).to_string()
    }

    fn create_body(&self, side: Side, px: Ticks, link: &str) -> serde_json::Value {
        let mut v = serde_json::json!({
            "category": self.category,
            "symbol": self.symbol,
            "side": side.as_str(),
            "orderType": "Limit",
            "qty": self.qty,
            "price": self.price_str(px),
            "timeInForce": "PostOnly",
            "orderLinkId": link,
        });
        if self.spot {
            v["isLeverage"] = serde_json::json!(0);
        }
        v
    }

    fn amend_body(&self, order_id: &str, px: Ticks, link: Option<&str>) -> serde_json::Value {
        let mut v = serde_json::json!({
            "category": self.category,
            "symbol": self.symbol,
            "orderId": order_id,
            "price": self.price_str(px),
        });
        if let Some(l) = link {
            v["orderLinkId"] = serde_json::json!(l);
        }
        v
    }
}

fn side_tag(side: Side) -> char {
    match side {
        Side::Buy => 'b',
        Side::Sell => 's',
    }
}

/// Runs the variant until `max_ticks`, `duration` or `stop`, on the runtime it is called from.
/// Returns after every sent request has been answered (or 5 s passed), so the simulator has
/// recorded every reaction by then.
pub async fn run(
    cfg: Config,
    stop: Arc<AtomicBool>,
    stats: Arc<RunStats>,
) -> Result<(), AsyncError> {
    if cfg.variant.is_empty() || cfg.variant.contains('-') {
        return Err(AsyncError::Config(
            "variant must be non-empty and contain no '-'",
        ));
    }
    let price = Step::parse(&cfg.tick_size).map_err(|_| AsyncError::Config("tick_size"))?;
    let qty_step = Step::parse(&cfg.qty_step).map_err(|_| AsyncError::Config("qty_step"))?;
    let creds = Credentials::new(&cfg.api_key, &cfg.api_secret)
        .map_err(|_| AsyncError::Config("api key/secret"))?;
    let signer = Signer::new(&creds);
    let inst = Arc::new(Inst {
        symbol: cfg.symbol.clone(),
        category: cfg.category.as_str(),
        price,
        qty: cfg.qty.clone(),
        spot: cfg.category == Category::Spot,
    });
    let orders: Orders = Arc::new(Mutex::new(Gate::new(cfg.category, cfg.budget_scale)));
    let (tx, rx) = mpsc::channel::<Quote>(1024);
    let replied = Arc::new(tokio::sync::Notify::new());

    // Order side first, so the trade connection is authenticated before quotes arrive.
    let order_task = match cfg.transport {
        Transport::Ws => {
            let (sink, reader) = ws_trade_connect(&cfg.ws_url, &cfg.api_key, &signer).await?;
            let r = tokio::spawn(ws_reader(
                reader,
                orders.clone(),
                stats.clone(),
                replied.clone(),
            ));
            let o = tokio::spawn(ws_orders(
                rx,
                sink,
                inst.clone(),
                orders.clone(),
                cfg.variant.clone(),
                stats.clone(),
            ));
            (o, Some(r))
        }
        Transport::Rest => {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(4)
                .pool_idle_timeout(None)
                .tcp_nodelay(true)
                .build()
                .map_err(|e| AsyncError::Io("reqwest client", e.to_string()))?;
            let o = tokio::spawn(rest_orders(
                rx,
                client,
                cfg.http_url.clone(),
                signer.clone(),
                cfg.api_key.clone(),
                inst.clone(),
                orders.clone(),
                cfg.variant.clone(),
                stats.clone(),
            ));
            (o, None)
        }
    };

    let url = format!("{}/v5/public/{}", cfg.ws_url, cfg.category.as_str());
    let (mut public, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .map_err(|e| AsyncError::Io("public ws connect", e.to_string()))?;
    let sub = format!(
        r#"{{"op":"subscribe","req_id":"{}","args":["orderbook.{}.{}"]}}"#,
        cfg.variant, cfg.depth, cfg.symbol
    );
    public
        .send(Message::text(sub))
        .await
        .map_err(|e| AsyncError::Io("subscribe", e.to_string()))?;

    let mut book = Book::new(BookConfig::default());
    let mut strategy = Strategy::new(StrategyParams::original());
    let deadline = cfg.duration.map(|d| tokio::time::Instant::now() + d);
    let mut ticks = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) || cfg.max_ticks.is_some_and(|m| ticks >= m) {
            break;
        }
        let next = match deadline {
            Some(d) => match tokio::time::timeout_at(d, public.next()).await {
                Ok(n) => n,
                Err(_) => break,
            },
            None => public.next().await,
        };
        let frame = match next {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(AsyncError::Io("public ws read", e.to_string())),
            None => break,
        };
        match on_frame(frame.as_str(), &mut book, &mut strategy, price, qty_step) {
            Ok(Some(q)) => {
                ticks += 1;
                stats.ticks.fetch_add(1, Ordering::Relaxed);
                if tx.send(q).await.is_err() {
                    break;
                }
            }
            Ok(None) => {}
            Err(_) => {
                stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                if !book.is_valid() {
                    // Resubscribe for a fresh snapshot, as a real client would.
                    let unsub = format!(
                        r#"{{"op":"unsubscribe","args":["orderbook.{}.{}"]}}"#,
                        cfg.depth, cfg.symbol
                    );
                    let resub = format!(
                        r#"{{"op":"subscribe","args":["orderbook.{}.{}"]}}"#,
                        cfg.depth, cfg.symbol
                    );
                    let _ = public.send(Message::text(unsub)).await;
                    let _ = public.send(Message::text(resub)).await;
                }
            }
        }
    }
    drop(tx);
    let _ = public.close(None).await;
    if let Ok(g) = orders.lock() {
        stats.held.store(g.held, Ordering::Relaxed);
    }
    let (order_task, reader) = order_task;
    let _ = order_task.await;
    if let Some(r) = reader {
        // Wait for the outstanding replies so the simulator has seen every request.
        let wait = async {
            while stats.replies.load(Ordering::Acquire) < stats.sent.load(Ordering::Acquire) {
                replied.notified().await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
        r.abort();
    }
    Ok(())
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
type WsSink = futures_util::stream::SplitSink<WsStream, Message>;
type WsRead = futures_util::stream::SplitStream<WsStream>;

async fn ws_trade_connect(
    ws_url: &str,
    api_key: &str,
    signer: &Signer,
) -> Result<(WsSink, WsRead), AsyncError> {
    let url = format!("{ws_url}/v5/trade");
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .map_err(|e| AsyncError::Io("trade ws connect", e.to_string()))?;
    let expires = wall_ms().0 + 10_000;
    let mut sig = [0u8; 64];
    signer.sign_ws_auth(expires, &mut sig);
    let sig = std::str::from_utf8(&sig).map_err(|_| AsyncError::Config("signature"))?;
    let auth = serde_json::json!({"op": "auth", "args": [api_key, expires, sig]});
    ws.send(Message::text(auth.to_string()))
        .await
        .map_err(|e| AsyncError::Io("trade auth send", e.to_string()))?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap_or_default();
                if v.get("op").and_then(|o| o.as_str()) != Some("auth") {
                    continue;
                }
                if v.get("retCode").and_then(|c| c.as_i64()) == Some(0) {
                    break;
                }
                return Err(AsyncError::Auth(t.as_str().to_string()));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(AsyncError::Io("trade auth reply", e.to_string())),
            None => return Err(AsyncError::Io("trade auth reply", "closed".into())),
        }
    }
    let (sink, read) = ws.split();
    Ok((sink, read))
}

/// Parses `<variant>-<b|s><seq>-<u>` back into the side; `c` after the side letter marks a create.
fn parse_req_side(req_id: &str) -> Option<(Side, bool)> {
    let mid = req_id.split('-').nth(1)?;
    let mut chars = mid.chars();
    let side = match chars.next()? {
        'b' => Side::Buy,
        's' => Side::Sell,
        _ => return None,
    };
    Some((side, chars.next() == Some('c')))
}

async fn ws_reader(
    mut read: WsRead,
    orders: Orders,
    stats: Arc<RunStats>,
    replied: Arc<tokio::sync::Notify>,
) {
    while let Some(m) = read.next().await {
        let Ok(Message::Text(t)) = m else {
            if m.is_err() {
                return;
            }
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(t.as_str()) else {
            continue;
        };
        let Some(req_id) = v.get("reqId").and_then(|r| r.as_str()) else {
            continue;
        };
        let code = v.get("retCode").and_then(|c| c.as_i64()).unwrap_or(-1);
        if code != 0 {
            stats.rejected.fetch_add(1, Ordering::Relaxed);
        }
        if let Some((side, create)) = parse_req_side(req_id) {
            let oid = v
                .get("data")
                .and_then(|d| d.get("orderId"))
                .and_then(|o| o.as_str());
            on_reply(&orders, side, create, code, oid);
        }
        stats.replies.fetch_add(1, Ordering::Release);
        replied.notify_one();
    }
}

fn ws_request(inst: &Inst, req_id: &str, action: &Action, side: Side, px: Ticks) -> Option<String> {
    let (op, arg) = match action {
        Action::Create => ("order.create", inst.create_body(side, px, req_id)),
        Action::Amend(id) => ("order.amend", inst.amend_body(id, px, None)),
        Action::Skip => return None,
    };
    let req = serde_json::json!({
        "reqId": req_id,
        "header": {"X-BAPI-TIMESTAMP": wall_ms().0.to_string(), "X-BAPI-RECV-WINDOW": "5000"},
        "op": op,
        "args": [arg],
    });
    Some(req.to_string())
}

async fn ws_orders(
    mut rx: mpsc::Receiver<Quote>,
    sink: WsSink,
    inst: Arc<Inst>,
    orders: Orders,
    variant: String,
    stats: Arc<RunStats>,
) {
    let sink = tokio::sync::Mutex::new(sink);
    let mut seq = 0u64;
    let mut retry = retry_timer();
    while let Some(plans) = next_plans(&mut rx, &orders, &mut retry).await {
        seq += 1;
        let one = |(side, action, px, u): Plan| {
            let c = if matches!(action, Action::Create) {
                "c"
            } else {
                ""
            };
            let req_id = format!("{variant}-{}{c}{seq}-{u}", side_tag(side));
            let msg = ws_request(&inst, &req_id, &action, side, px);
            let sink = &sink;
            let stats = &stats;
            async move {
                let Some(msg) = msg else { return };
                if sink.lock().await.send(Message::text(msg)).await.is_ok() {
                    stats.sent.fetch_add(1, Ordering::Release);
                }
            }
        };
        let [b, a] = plans;
        tokio::join!(one(b), one(a));
    }
    let _ = sink.lock().await.close().await;
}

#[allow(clippy::too_many_arguments)]
async fn rest_orders(
    mut rx: mpsc::Receiver<Quote>,
    client: reqwest::Client,
    base: String,
    signer: Signer,
    api_key: String,
    inst: Arc<Inst>,
    orders: Orders,
    variant: String,
    stats: Arc<RunStats>,
) {
    let mut seq = 0u64;
    let mut retry = retry_timer();
    while let Some(plans) = next_plans(&mut rx, &orders, &mut retry).await {
        seq += 1;
        let one = |(side, action, px, u): Plan| {
            let c = if matches!(action, Action::Create) {
                "c"
            } else {
                ""
            };
            let link = format!("{variant}-{}{c}{seq}-{u}", side_tag(side));
            let (path, body) = match &action {
                Action::Create => ("/v5/order/create", Some(inst.create_body(side, px, &link))),
                Action::Amend(id) => (
                    "/v5/order/amend",
                    Some(inst.amend_body(id, px, Some(&link))),
                ),
                Action::Skip => ("", None),
            };
            let (client, base, signer, api_key, orders, stats) =
                (&client, &base, &signer, &api_key, &orders, &stats);
            async move {
                let Some(body) = body else { return };
                let body = body.to_string();
                let ts = wall_ms().0.to_string();
                let mut sig = [0u8; 64];
                signer.sign_rest(ts.as_bytes(), b"5000", body.as_bytes(), &mut sig);
                let sig = String::from_utf8_lossy(&sig).into_owned();
                stats.sent.fetch_add(1, Ordering::Release);
                let resp = client
                    .post(format!("{base}{path}"))
                    .header("X-BAPI-API-KEY", api_key.as_str())
                    .header("X-BAPI-TIMESTAMP", ts)
                    .header("X-BAPI-RECV-WINDOW", "5000")
                    .header("X-BAPI-SIGN", sig)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await;
                let text = match resp {
                    Ok(r) => r.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                stats.replies.fetch_add(1, Ordering::Release);
                let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                let code = v.get("retCode").and_then(|c| c.as_i64()).unwrap_or(-1);
                if code != 0 {
                    stats.rejected.fetch_add(1, Ordering::Relaxed);
                }
                let oid = v
                    .get("result")
                    .and_then(|d| d.get("orderId"))
                    .and_then(|o| o.as_str());
                on_reply(orders, side, matches!(action, Action::Create), code, oid);
            }
        };
        let [b, a] = plans;
        tokio::join!(one(b), one(a));
    }
}

/// Builds the requested runtime on the calling thread and runs [`run`] to completion.
pub fn run_blocking(
    cfg: Config,
    runtime: RuntimeKind,
    stop: Arc<AtomicBool>,
    stats: Arc<RunStats>,
) -> Result<(), AsyncError> {
    let rt = match runtime {
        RuntimeKind::Multi => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        RuntimeKind::Current => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    }
    .map_err(|e| AsyncError::Io("tokio runtime", e.to_string()))?;
    rt.block_on(run(cfg, stop, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn req_ids_follow_the_echo_convention_and_carry_the_side() {
        let id = format!("asyncmt-{}c{}-{}", side_tag(Side::Sell), 17, 12345);
        assert_eq!(
            gapmm::sim::measure::parse_echo_tag(&id),
            Some(("asyncmt", 12345))
        );
        assert_eq!(parse_req_side(&id), Some((Side::Sell, true)));
        assert_eq!(parse_req_side("asyncmt-b3-9"), Some((Side::Buy, false)));
        assert_eq!(parse_req_side("junk"), None);
    }

    #[test]
    fn frames_update_the_book_and_produce_a_quote() {
        let p = Step::parse("0.1").unwrap();
        let q = Step::parse("0.001").unwrap();
        let mut book = Book::new(BookConfig::default());
        let mut st = Strategy::new(StrategyParams::original());
        let snap = r#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1000,"data":{"s":"BTCUSDT","b":[["60000.0","1.5"],["59999.9","2"]],"a":[["60000.1","0.5"]],"u":7,"seq":70},"cts":999}"#;
        let quote = on_frame(snap, &mut book, &mut st, p, q).unwrap().unwrap();
        assert_eq!(quote.u, 7);
        assert_eq!(book.best_bid().unwrap().price, Ticks(600_000));
        assert!(quote.target.bid < Ticks(600_001) && quote.target.ask > Ticks(600_000));
        let delta = r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1001,"data":{"s":"BTCUSDT","b":[["60000.0","0"]],"a":[],"u":8,"seq":71},"cts":1000}"#;
        let quote = on_frame(delta, &mut book, &mut st, p, q).unwrap().unwrap();
        assert_eq!(quote.u, 8);
        assert_eq!(book.best_bid().unwrap().price, Ticks(599_999));
        // Non-book frames are not quotes; broken ones are errors.
        let ack = r#"{"success":true,"ret_msg":"","op":"subscribe","conn_id":"x"}"#;
        assert!(on_frame(ack, &mut book, &mut st, p, q).unwrap().is_none());
        assert!(on_frame("{not json", &mut book, &mut st, p, q).is_err());
    }
}
