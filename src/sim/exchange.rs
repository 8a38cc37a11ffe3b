//! The deterministic exchange core of gapmm-sim: order books with true queue
//! position, accounts, Bybit-shaped replies and pushes, and the public feed.
//!
//! Contract: single-threaded, no I/O, no threads, no sockets. Time is only
//! what the caller passes (`now_ms`); the matching engine (orderbook-rs) is
//! given a clock that returns that value, so the same seed and the same calls
//! produce the same bytes. One orderbook-rs book per symbol holds both the
//! synthetic liquidity and the clients' orders, so a client's resting order
//! fills only after the volume ahead of it at its price has traded.
//!
//! Allocation: REST replies build `serde_json::Value`s (not a hot path).
//! Public and private frames are written straight into reused byte buffers
//! ([`PublicBatch`], [`PrivateBatch`]) that the caller swaps out with
//! [`Exchange::drain_public`] / [`Exchange::drain_private`], so encoding does
//! not allocate once warm; orderbook-rs allocates per order, and the level
//! maps allocate when a new price level appears. Each account keeps the newest
//! [`EXEC_HISTORY`] executions it was pushed on `execution` (a ring that grows
//! to that bound, no allocation per fill after), which `/v5/execution/list`
//! serves with the pushed ids and values; likewise each book keeps its
//! newest [`RECENT_TRADES`] trades and per-minute figures of the last 24 h
//! for `/v5/market/recent-trade` and `/v5/market/tickers`. Ids a client sees
//! are salted by the [`Instance`] (none for the default one). Never blocks
//! (the trade listener's mutex is only ever taken by this thread).
//! Throughput: see the `sim_public_messages` bench (≈ 200k+ frames/s in
//! release).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use orderbook_rs::{Clock as ObClock, Id, OrderBook, TimeInForce, TimestampMs, TradeResult};
use pricelevel::{OrderUpdate, Quantity};
use serde_json::{json, Value};

use crate::ids::{order_link_id, Category, OrderId, OrderLinkId, Symbol};
use crate::units::{Side, Step, UnitError};

use super::account::{self, Account, BookAudit, Position};
use super::market::{self, Action, MarketModel, MarketView, ReplayState, SymState, Synth};
use super::wire::{
    self, put, put_qmoney, put_qstep, put_qstr, put_qu64, put_u64, BookMsg, TradePrint,
};

/// What went wrong building or driving the exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimError {
    /// The configuration is unusable.
    BadConfig(&'static str),
    /// Unknown or unsupported public topic.
    UnknownTopic,
    /// The recording could not be loaded.
    Replay(&'static str),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::BadConfig(s) => write!(f, "bad simulator config: {s}"),
            SimError::UnknownTopic => f.write_str("unknown or unsupported public topic"),
            SimError::Replay(s) => write!(f, "replay: {s}"),
        }
    }
}

impl std::error::Error for SimError {}

/// One tradable instrument.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolConfig {
    /// Symbol (`BTCUSDT`).
    pub symbol: String,
    /// Spot or linear.
    pub category: Category,
    /// Base coin (`BTC`).
    pub base_coin: String,
    /// Quote / settle coin (`USDT`).
    pub quote_coin: String,
    /// Price step.
    pub tick_size: String,
    /// Quantity step (`qtyStep` / spot `basePrecision`).
    pub qty_step: String,
    /// Minimum order quantity.
    pub min_qty: String,
    /// Maximum order quantity.
    pub max_qty: String,
    /// Minimum notional (`minNotionalValue` / spot `minOrderAmt`).
    pub min_notional: String,
    /// Where the synthetic market starts.
    pub start_price: String,
    /// Typical synthetic order size.
    pub typical_qty: String,
}

impl SymbolConfig {
    /// BTCUSDT spot (tick 0.1, base precision 0.000001).
    pub fn btcusdt_spot() -> SymbolConfig {
        SymbolConfig {
            symbol: "BTCUSDT".into(),
            category: Category::Spot,
            base_coin: "BTC".into(),
            quote_coin: "USDT".into(),
            tick_size: "0.1".into(),
            qty_step: "0.000001".into(),
            min_qty: "0.000011".into(),
            max_qty: "83".into(),
            min_notional: "5".into(),
            start_price: "60000".into(),
            typical_qty: "0.05".into(),
        }
    }
    /// BTCUSDT linear (tick 0.1, qty step 0.001).
    pub fn btcusdt_linear() -> SymbolConfig {
        SymbolConfig {
            symbol: "BTCUSDT".into(),
            category: Category::Linear,
            base_coin: "BTC".into(),
            quote_coin: "USDT".into(),
            tick_size: "0.1".into(),
            qty_step: "0.001".into(),
            min_qty: "0.001".into(),
            max_qty: "1190".into(),
            min_notional: "5".into(),
            start_price: "60000".into(),
            typical_qty: "0.05".into(),
        }
    }
    /// XRPUSDT linear (tick 0.0001, qty step 1).
    pub fn xrpusdt_linear() -> SymbolConfig {
        SymbolConfig {
            symbol: "XRPUSDT".into(),
            category: Category::Linear,
            base_coin: "XRP".into(),
            quote_coin: "USDT".into(),
            tick_size: "0.0001".into(),
            qty_step: "1".into(),
            min_qty: "1".into(),
            max_qty: "1000000".into(),
            min_notional: "5".into(),
            start_price: "1.95".into(),
            typical_qty: "5000".into(),
        }
    }
}

/// One account and its starting balances.
#[derive(Clone, PartialEq)]
pub struct AccountConfig {
    /// User id.
    pub uid: u64,
    /// API key.
    pub api_key: String,
    /// API secret.
    pub api_secret: String,
    /// Starting balances: (coin, decimal amount).
    pub balances: Vec<(String, String)>,
}

impl fmt::Debug for AccountConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountConfig")
            .field("uid", &self.uid)
            .field("api_key", &self.api_key)
            .field("api_secret", &"<redacted>")
            .field("balances", &self.balances)
            .finish()
    }
}

/// Fees in millionths (100 = 0.0001).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    /// Maker rate ×10^6.
    pub maker_e6: i64,
    /// Taker rate ×10^6.
    pub taker_e6: i64,
}

impl Default for Fees {
    fn default() -> Self {
        Fees {
            maker_e6: 100,
            taker_e6: 550,
        }
    }
}

/// Everything the exchange is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Instruments.
    pub symbols: Vec<SymbolConfig>,
    /// Accounts.
    pub accounts: Vec<AccountConfig>,
    /// Market flow.
    pub market: MarketModel,
    /// Fee rates.
    pub fees: Fees,
    /// Linear leverage for the margin check.
    pub leverage: u32,
    /// Open orders allowed per account and symbol.
    pub max_open_orders: u32,
    /// Push book topics at Bybit's intervals (depth 1: 10 ms, 50: 20 ms,
    /// 200: 100 ms, 1000: 200 ms), coalescing the changes in between; false
    /// pushes one frame per matching event. `publicTrade` is always real-time.
    pub paced: bool,
    /// Which start of the exchange this is. Its nonce is mixed into order,
    /// execution and public trade ids and into the API key's id, so a
    /// simulator restarted with the same seed (a new account state) never
    /// hands out an id an earlier start used: a client that journals fills
    /// by `execId` would otherwise take the new fills for ones it counted.
    /// [`Instance::default`] (what [`ExchangeConfig::standard`] sets) leaves
    /// every id as the seed alone makes it, so a core built in a test is
    /// reproducible; the server draws an [`Instance::fresh`] one at start
    /// unless the config names one.
    pub instance: Instance,
}

/// One start of the exchange (see [`ExchangeConfig::instance`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Instance {
    /// Mixed into the ids; 0 = nothing mixed in.
    pub nonce: u64,
    /// When this start happened (wall ms): the API key's `createdAt` and the
    /// account's `updatedTime`.
    pub started_ms: u64,
}

impl Instance {
    /// An instance starting now. The nonce mixes the wall clock's
    /// nanoseconds, the process id and a process-wide count of starts, so
    /// two starts in the same millisecond, or in two processes, differ.
    /// This reads the clock: the server calls it, the exchange never does.
    pub fn fresh() -> Instance {
        static STARTS: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let n = STARTS.fetch_add(1, Ordering::Relaxed);
        let raw = nanos
            ^ u64::from(std::process::id()).rotate_left(40)
            ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Instance {
            // 0 would mean "nothing mixed in".
            nonce: market::mix(raw).max(1),
            started_ms: nanos / 1_000_000,
        }
    }
}

impl ExchangeConfig {
    /// The three standard symbols, one account (uid 1001, key `simkey`,
    /// secret `simsecret`, 1,000,000 USDT and 10 BTC), the given market.
    pub fn standard(seed: u64, market: MarketModel) -> ExchangeConfig {
        ExchangeConfig {
            seed,
            symbols: vec![
                SymbolConfig::btcusdt_spot(),
                SymbolConfig::btcusdt_linear(),
                SymbolConfig::xrpusdt_linear(),
            ],
            accounts: vec![AccountConfig {
                uid: 1001,
                api_key: "simkey".into(),
                api_secret: "simsecret".into(),
                balances: vec![
                    ("USDT".into(), "1000000".into()),
                    ("BTC".into(), "10".into()),
                ],
            }],
            market,
            fees: Fees::default(),
            leverage: 10,
            max_open_orders: 500,
            paced: false,
            instance: Instance::default(),
        }
    }
}

/// A request kind (REST endpoint or WS trade op).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `/v5/order/create`, `order.create`.
    Create,
    /// `/v5/order/amend`, `order.amend`.
    Amend,
    /// `/v5/order/cancel`, `order.cancel`.
    Cancel,
    /// `/v5/order/cancel-all`.
    CancelAll,
    /// `/v5/order/create-batch`, `order.create-batch`.
    CreateBatch,
    /// `/v5/order/amend-batch`, `order.amend-batch`.
    AmendBatch,
    /// `/v5/order/cancel-batch`, `order.cancel-batch`.
    CancelBatch,
    /// `/v5/order/realtime`.
    OrderRealtime,
    /// `/v5/position/list`.
    PositionList,
    /// `/v5/execution/list`.
    ExecutionList,
    /// `/v5/account/wallet-balance`.
    WalletBalance,
    /// `/v5/market/instruments-info`.
    InstrumentsInfo,
    /// `/v5/market/orderbook`.
    Orderbook,
    /// `/v5/market/time`.
    Time,
    /// `/v5/market/tickers`.
    Tickers,
    /// `/v5/market/recent-trade`.
    RecentTrade,
    /// `/v5/order/history`.
    OrderHistory,
    /// `/v5/asset/coin/query-info`.
    CoinInfo,
    /// `/v5/user/query-api`.
    QueryApi,
    /// `/v5/account/info`.
    AccountInfo,
}

/// A business reply; the server wraps it in Bybit's REST or WS-trade envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// `retCode`.
    pub ret_code: i64,
    /// `retMsg`.
    pub ret_msg: String,
    /// `result` (`{}` on error).
    pub result: Value,
    /// `retExtInfo` (`{}` unless a batch).
    pub ret_ext_info: Value,
}

impl Reply {
    fn ok(result: Value) -> Reply {
        Reply {
            ret_code: 0,
            ret_msg: "OK".into(),
            result,
            ret_ext_info: json!({}),
        }
    }
    fn err(r: Rej) -> Reply {
        Reply {
            ret_code: r.code,
            ret_msg: r.msg.into(),
            result: json!({}),
            ret_ext_info: json!({}),
        }
    }
}

/// Book levels best-first: (price in ticks, size in lots).
pub type Levels = Vec<(i64, i64)>;

/// A public topic handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicId(pub u32);

/// One public frame inside a [`PublicBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicOut {
    /// Topic it belongs to.
    pub topic: TopicId,
    /// `u` of an orderbook message (None for publicTrade).
    pub update_id: Option<u64>,
    /// Byte range in [`PublicBatch::bytes`].
    pub range: Range<usize>,
}

/// Frames produced since the last drain, back to back in one reused byte
/// buffer, with one metadata entry per frame ([`PublicBatch`], [`PrivateBatch`]).
#[derive(Debug, Clone)]
pub struct FrameBatch<T> {
    /// All frames back to back.
    pub bytes: Vec<u8>,
    /// One entry per frame.
    pub items: Vec<T>,
}

impl<T> Default for FrameBatch<T> {
    fn default() -> Self {
        FrameBatch {
            bytes: Vec::new(),
            items: Vec::new(),
        }
    }
}

/// A frame's place in [`FrameBatch::bytes`].
pub trait Framed {
    /// Byte range of the frame.
    fn range(&self) -> Range<usize>;
}

impl Framed for PublicOut {
    fn range(&self) -> Range<usize> {
        self.range.clone()
    }
}

impl Framed for PrivateOut {
    fn range(&self) -> Range<usize> {
        self.range.clone()
    }
}

impl<T: Framed> FrameBatch<T> {
    /// Empties the batch, keeping capacity.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.items.clear();
    }
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// Whether there are no frames.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// The bytes of frame `i` (empty if out of range).
    pub fn frame(&self, i: usize) -> &[u8] {
        self.items.get(i).map(|it| self.bytes_of(it)).unwrap_or(&[])
    }
    fn bytes_of(&self, it: &T) -> &[u8] {
        self.bytes.get(it.range()).unwrap_or(&[])
    }
}

/// Public frames produced since the last drain.
pub type PublicBatch = FrameBatch<PublicOut>;

impl PublicBatch {
    /// (topic, frame, update id) for every frame.
    pub fn iter(&self) -> impl Iterator<Item = (TopicId, &[u8], Option<u64>)> + '_ {
        self.items
            .iter()
            .map(|it| (it.topic, self.bytes_of(it), it.update_id))
    }
}

/// Private topic of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrivateTopic {
    /// `order`.
    Order,
    /// `execution`.
    Execution,
    /// `execution.fast`.
    ExecutionFast,
    /// `position`.
    Position,
    /// `wallet`.
    Wallet,
}

/// One private frame inside a [`PrivateBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateOut {
    /// Recipient.
    pub uid: u64,
    /// Topic.
    pub topic: PrivateTopic,
    /// Category of every element in the frame (None for wallet).
    pub category: Option<Category>,
    /// Byte range in [`PrivateBatch::bytes`].
    pub range: Range<usize>,
}

/// Private frames produced since the last drain.
pub type PrivateBatch = FrameBatch<PrivateOut>;

impl PrivateBatch {
    /// (uid, topic, frame) for every frame.
    pub fn iter(&self) -> impl Iterator<Item = (u64, PrivateTopic, &[u8])> + '_ {
        self.items
            .iter()
            .map(|it| (it.uid, it.topic, self.bytes_of(it)))
    }
}

// ---------------------------------------------------------------------------
// Internals

#[derive(Debug)]
struct SimClock(AtomicU64);

impl ObClock for SimClock {
    fn now_millis(&self) -> TimestampMs {
        TimestampMs::new(self.0.load(Ordering::Relaxed))
    }
}

#[derive(Debug, Clone, Copy)]
struct RawFill {
    taker: u64,
    maker: u64,
    price: i64,
    qty: i64,
    taker_side: Side,
}

type FillSink = Arc<Mutex<Vec<RawFill>>>;

/// Trades kept per book for `/v5/market/recent-trade` (its largest `limit`).
pub const RECENT_TRADES: usize = 1000;

/// Minutes in the 24 h window of `/v5/market/tickers`.
const DAY_MINUTES: u64 = 24 * 60;

/// One wall-clock minute of a book's trades, for the tickers' 24 h figures
/// (1440 of these bound the memory whatever the trade rate).
#[derive(Debug, Clone, Copy)]
struct MinuteStat {
    /// Minutes since the epoch.
    minute: u64,
    open: i64,
    high: i64,
    low: i64,
    close: i64,
    /// Lots traded.
    volume: i64,
    /// Σ price × qty (ticks × lots).
    turnover_tl: i128,
}

/// A book's trade figures over a trailing window, in ticks and lots.
#[derive(Debug, Clone, Copy)]
struct WindowStats {
    high: i64,
    low: i64,
    volume: i64,
    turnover_tl: i128,
}

#[inline]
fn si(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

#[inline]
fn ob_side(side: Side) -> orderbook_rs::Side {
    match side {
        Side::Buy => orderbook_rs::Side::Buy,
        Side::Sell => orderbook_rs::Side::Sell,
    }
}

struct Book {
    symbol: Symbol,
    cat: Category,
    tick: Step,
    lot: Step,
    base: String,
    quote: String,
    min_qty: i64,
    max_qty: i64,
    min_notional: i128,
    typical: i64,
    start_price: i64,
    ob: OrderBook<()>,
    sink: FillSink,
    clock: Arc<SimClock>,
    /// Aggregated levels (price → total lots) of everything resting: [bids, asks].
    l2: [BTreeMap<i64, i64>; 2],
    /// Synthetic orders per level in queue order: (orderbook id, lots).
    synth: [BTreeMap<i64, VecDeque<(u64, i64)>>; 2],
    seq: u64,
    last_price: i64,
    last_dir: u8,
    /// Most aggressive price changed per side since the last flush.
    dirty: [Option<i64>; 2],
    book_topics: Vec<usize>,
    trade_topic: Option<usize>,
    trades: Vec<TradePrint>,
    /// The newest [`RECENT_TRADES`] trades, oldest first.
    recent: VecDeque<TradePrint>,
    /// Per-minute trade figures of the last 24 h (and one minute more), oldest first.
    minutes: VecDeque<MinuteStat>,
    /// The close of the newest minute dropped from `minutes` (0: none yet).
    before_minutes: i64,
    /// Money per tick×lot: 10^(MONEY_SCALE − tick.scale − lot.scale) × tick.units × lot.units.
    money_per_tl: i128,
    /// Money per lot.
    money_per_lot: i128,
}

impl Book {
    fn best(&self, side: Side) -> Option<i64> {
        match side {
            Side::Buy => self.l2[0].keys().next_back().copied(),
            Side::Sell => self.l2[1].keys().next().copied(),
        }
    }
    fn levels(&self, side: Side, depth: usize, out: &mut Vec<(i64, i64)>) {
        out.clear();
        match side {
            Side::Buy => out.extend(self.l2[0].iter().rev().take(depth).map(|(&p, &q)| (p, q))),
            Side::Sell => out.extend(self.l2[1].iter().take(depth).map(|(&p, &q)| (p, q))),
        }
    }
    fn l2_add(&mut self, side: Side, price: i64, qty: i64) {
        if qty == 0 {
            return;
        }
        let m = &mut self.l2[si(side)];
        let e = m.entry(price).or_insert(0);
        *e += qty;
        if *e <= 0 {
            m.remove(&price);
        }
        self.mark(side, price);
    }
    fn mark(&mut self, side: Side, price: i64) {
        let d = &mut self.dirty[si(side)];
        *d = Some(match (*d, side) {
            (None, _) => price,
            (Some(p), Side::Buy) => p.max(price),
            (Some(p), Side::Sell) => p.min(price),
        });
    }
    fn synth_total(&self, side: Side, price: i64) -> i64 {
        self.synth[si(side)]
            .get(&price)
            .map(|q| q.iter().map(|e| e.1).sum())
            .unwrap_or(0)
    }
    fn tl_money(&self, tl: i128) -> i128 {
        tl * self.money_per_tl
    }
    fn lots_money(&self, lots: i64) -> i128 {
        i128::from(lots) * self.money_per_lot
    }
    /// Keeps a trade for `/v5/market/recent-trade` and the 24 h figures.
    fn remember(&mut self, t: &TradePrint) {
        if self.recent.len() >= RECENT_TRADES {
            self.recent.pop_front();
        }
        self.recent.push_back(*t);
        let minute = t.time_ms / 60_000;
        let tl = i128::from(t.price) * i128::from(t.qty);
        match self.minutes.back_mut() {
            Some(m) if m.minute == minute => {
                m.high = m.high.max(t.price);
                m.low = m.low.min(t.price);
                m.close = t.price;
                m.volume += t.qty;
                m.turnover_tl += tl;
            }
            _ => self.minutes.push_back(MinuteStat {
                minute,
                open: t.price,
                high: t.price,
                low: t.price,
                close: t.price,
                volume: t.qty,
                turnover_tl: tl,
            }),
        }
        // One minute beyond the window stays so "the price 24 h ago" is known.
        while self
            .minutes
            .front()
            .is_some_and(|m| m.minute + DAY_MINUTES < minute)
        {
            if let Some(m) = self.minutes.pop_front() {
                self.before_minutes = m.close;
            }
        }
    }
    /// The last trade price; before the first trade, the configured start
    /// price (Bybit always has a last price for a listed symbol).
    fn last_or_start(&self) -> i64 {
        if self.last_price > 0 {
            self.last_price
        } else {
            self.start_price
        }
    }
    /// The mid, which the simulator also uses as the mark price of positions;
    /// the last price while a side is empty.
    fn mark_price(&self) -> i64 {
        match (self.best(Side::Buy), self.best(Side::Sell)) {
            (Some(b), Some(a)) => (b + a) / 2,
            _ => self.last_or_start(),
        }
    }
    /// The trailing `span` minutes (the current one included) ending at `now_ms`.
    fn window(&self, now_ms: u64, span: u64) -> impl Iterator<Item = &MinuteStat> + '_ {
        let now = now_ms / 60_000;
        self.minutes.iter().filter(move |m| m.minute + span > now)
    }
    /// The price `span` minutes ago: the last trade before the window, else
    /// the first one in it (the simulator has not run that long), else the
    /// last price.
    fn price_ago(&self, now_ms: u64, span: u64) -> i64 {
        let now = now_ms / 60_000;
        self.minutes
            .iter()
            .rev()
            .find(|m| m.minute + span <= now)
            .map(|m| m.close)
            .or_else(|| (self.before_minutes > 0).then_some(self.before_minutes))
            .or_else(|| self.window(now_ms, span).next().map(|m| m.open))
            .unwrap_or_else(|| self.last_or_start())
    }
    /// High, low, volume and turnover of the last 24 h; with no trade in it,
    /// high and low are the last price.
    fn day_stats(&self, now_ms: u64) -> WindowStats {
        let mut st: Option<WindowStats> = None;
        for m in self.window(now_ms, DAY_MINUTES) {
            let s = st.get_or_insert(WindowStats {
                high: m.high,
                low: m.low,
                volume: 0,
                turnover_tl: 0,
            });
            s.high = s.high.max(m.high);
            s.low = s.low.min(m.low);
            s.volume += m.volume;
            s.turnover_tl += m.turnover_tl;
        }
        st.unwrap_or(WindowStats {
            high: self.last_or_start(),
            low: self.last_or_start(),
            volume: 0,
            turnover_tl: 0,
        })
    }
}

impl MarketView for Book {
    fn best(&self, side: Side) -> Option<i64> {
        Book::best(self, side)
    }
    fn level_count(&self, side: Side) -> usize {
        self.l2[si(side)].len()
    }
    fn level_at(&self, side: Side, n: usize) -> Option<(i64, i64)> {
        match side {
            Side::Buy => self.l2[0].iter().rev().nth(n).map(|(&p, &q)| (p, q)),
            Side::Sell => self.l2[1].iter().nth(n).map(|(&p, &q)| (p, q)),
        }
    }
    fn synth_at(&self, side: Side, price: i64) -> i64 {
        self.synth_total(side, price)
    }
    fn worst(&self, side: Side) -> Option<i64> {
        match side {
            Side::Buy => self.l2[0].keys().next().copied(),
            Side::Sell => self.l2[1].keys().next_back().copied(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    New,
    PartiallyFilled,
    Filled,
    Cancelled,
    PartiallyFilledCanceled,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::New => "New",
            Status::PartiallyFilled => "PartiallyFilled",
            Status::Filled => "Filled",
            Status::Cancelled => "Cancelled",
            Status::PartiallyFilledCanceled => "PartiallyFilledCanceled",
        }
    }
    fn open(self) -> bool {
        matches!(self, Status::New | Status::PartiallyFilled)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tif {
    Gtc,
    Ioc,
    Fok,
    PostOnly,
}

impl Tif {
    fn as_str(self) -> &'static str {
        match self {
            Tif::Gtc => "GTC",
            Tif::Ioc => "IOC",
            Tif::Fok => "FOK",
            Tif::PostOnly => "PostOnly",
        }
    }
}

#[derive(Debug, Clone)]
struct Order {
    key: u64,
    ob_id: u64,
    uid: u64,
    book: usize,
    order_id: OrderId,
    link: OrderLinkId,
    side: Side,
    market: bool,
    tif: Tif,
    price: i64,
    qty: i64,
    cum: i64,
    cum_value_tl: i128,
    fee: i128,
    status: Status,
    reject: &'static str,
    cancel_type: &'static str,
    created: u64,
    updated: u64,
    resting: bool,
    /// Money locked for this order (spot), in `lock_coin_base ? base : quote`.
    locked: i128,
    lock_base: bool,
    /// This order's share of its account's `linear_order_value`.
    im_value: i128,
}

impl Order {
    fn leaves(&self) -> i64 {
        if self.status.open() {
            self.qty - self.cum
        } else {
            0
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Owner {
    Synth,
    Client(u64),
}

#[derive(Debug, Clone, Copy)]
struct ExecRec {
    key: u64,
    exec_id: u64,
    price: i64,
    qty: i64,
    maker: bool,
    fee: i128,
    fee_rate_e6: i64,
    time: u64,
    seq: u64,
    leaves: i64,
    closed: i64,
}

/// One execution as pushed on the private `execution` stream, with the order
/// fields it was rendered from, so `/v5/execution/list` serves the same bytes
/// after the order itself has been forgotten.
#[derive(Debug, Clone, Copy)]
struct HistExec {
    rec: ExecRec,
    book: usize,
    order_id: OrderId,
    link: OrderLinkId,
    side: Side,
    market: bool,
    order_price: i64,
    order_qty: i64,
}

impl HistExec {
    fn new(o: &Order, e: &ExecRec) -> HistExec {
        HistExec {
            rec: *e,
            book: o.book,
            order_id: o.order_id,
            link: o.link,
            side: o.side,
            market: o.market,
            order_price: o.price,
            order_qty: o.qty,
        }
    }
    /// The order of `/v5/execution/list` (newest first = descending key).
    fn key(&self) -> (u64, u64) {
        (self.rec.time, self.rec.exec_id)
    }
}

/// [`Exchange::audit`]'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountAudit {
    /// The counters.
    pub book: BookAudit,
    /// `book.execs` as the `execId` strings the private stream carried.
    pub exec_ids: Vec<String>,
}

fn side_index(s: Side) -> usize {
    match s {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

/// Executions kept per account for `/v5/execution/list` (oldest dropped first).
pub const EXEC_HISTORY: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Rej {
    code: i64,
    msg: &'static str,
}

#[derive(Debug, Clone, Copy)]
struct Codes {
    bad_param: i64,
    bad_symbol: i64,
    price_precision: i64,
    qty_precision: i64,
    qty_min: i64,
    qty_max: i64,
    notional_min: i64,
    balance: i64,
    not_found: i64,
    dup_link: i64,
    too_many: i64,
    amend_qty: i64,
    batch_max: usize,
}

fn codes(cat: Category) -> Codes {
    match cat {
        Category::Spot => Codes {
            bad_param: 170130,
            bad_symbol: 170121,
            price_precision: 170134,
            qty_precision: 170137,
            qty_min: 170136,
            qty_max: 170124,
            notional_min: 170140,
            balance: 170131,
            not_found: 170213,
            dup_link: 170141,
            too_many: 170810,
            amend_qty: 170313,
            batch_max: 10,
        },
        Category::Linear => Codes {
            bad_param: 10001,
            bad_symbol: 10001,
            price_precision: 110003,
            qty_precision: 10001,
            qty_min: 10001,
            qty_max: 10001,
            notional_min: 110094,
            balance: 110007,
            not_found: 110001,
            dup_link: 110072,
            too_many: 110020,
            amend_qty: 110064,
            batch_max: 20,
        },
    }
}

fn rej(code: i64, msg: &'static str) -> Rej {
    Rej { code, msg }
}

enum TopicKind {
    Book {
        depth: usize,
        u: u64,
        view: [Vec<(i64, i64)>; 2],
        skip: bool,
    },
    Trade,
}

struct Topic {
    book: usize,
    open: bool,
    /// Changes not yet pushed (paced mode): most aggressive price per side.
    pending: [Option<i64>; 2],
    /// Earliest time the next frame may go out (paced mode).
    next_push: u64,
    name: Vec<u8>,
    kind: TopicKind,
}

enum MarketState {
    Quiet,
    Synth {
        gen: Synth,
        states: Vec<SymState>,
        start_us: Option<u128>,
        done: u64,
    },
    Replay(ReplayState),
}

/// The simulated exchange. See the module docs for the contract.
pub struct Exchange {
    seed: u64,
    /// The seed with this start's nonce mixed in: the salt of every id a
    /// client sees (equal to `seed` when the instance is the default).
    id_salt: u64,
    instance: Instance,
    fees: Fees,
    leverage: i128,
    max_open: u32,
    paced: bool,
    books: Vec<Book>,
    accounts: Vec<Account>,
    acct_by_uid: HashMap<u64, usize>,
    acct_by_key: HashMap<String, usize>,
    orders: BTreeMap<u64, Order>,
    /// Keys of the open orders (a subset of `orders`).
    open_keys: BTreeSet<u64>,
    by_order_id: HashMap<OrderId, u64>,
    by_link: HashMap<(u64, OrderLinkId), u64>,
    closed_fifo: VecDeque<u64>,
    owners: HashMap<u64, Owner>,
    next_ob_id: u64,
    next_key: u64,
    next_exec: u64,
    next_trade: u64,
    next_msg: u64,
    topics: Vec<Topic>,
    topic_by_name: HashMap<(Category, Vec<u8>), usize>,
    market: MarketState,
    pub_batch: PublicBatch,
    priv_batch: PrivateBatch,
    pend_orders: Vec<u64>,
    pend_execs: Vec<ExecRec>,
    /// Per uid, the newest [`EXEC_HISTORY`] executions pushed, oldest first.
    exec_hist: HashMap<u64, VecDeque<HistExec>>,
    pend_pos: Vec<(u64, usize)>,
    pend_wallet: Vec<u64>,
    fills: Vec<RawFill>,
    scratch: Vec<(i64, i64)>,
    changes: [Vec<(i64, i64)>; 2],
    now: u64,
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange")
            .field("seed", &self.seed)
            .field("books", &self.books.len())
            .field("accounts", &self.accounts.len())
            .field("open_orders", &self.orders.len())
            .finish()
    }
}

const MAX_CLOSED_KEPT: usize = 5000;

fn pow10(n: u8) -> i128 {
    10i128.pow(u32::from(n))
}

fn step_of(s: &str) -> Result<Step, SimError> {
    Step::parse(s)
        .map_err(|_| SimError::BadConfig("tick size / qty step is not a positive decimal"))
}

fn money_of(s: &str) -> Result<i128, SimError> {
    let d = crate::units::Decimal::parse(s.as_bytes())
        .map_err(|_| SimError::BadConfig("amount is not a decimal"))?;
    if d.scale > wire::MONEY_SCALE {
        return Err(SimError::BadConfig("amount has more than 12 decimals"));
    }
    Ok(i128::from(d.mantissa) * pow10(wire::MONEY_SCALE - d.scale))
}

fn pstr<'a>(p: &'a Value, k: &str) -> Option<&'a str> {
    match p.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
        _ => None,
    }
}

/// The category a public market query names.
enum MarketCategory {
    /// One the simulator lists symbols in.
    Listed(Category),
    /// `inverse` or `option`: Bybit's, but the simulator lists nothing there.
    Unlisted(&'static str),
}

/// `category` when it names one of Bybit's categories the simulator lists
/// no products of (the answer there is an empty list, not an error).
fn unlisted_category(p: &Value) -> Option<&'static str> {
    match pstr(p, "category") {
        Some("inverse") => Some("inverse"),
        Some("option") => Some("option"),
        _ => None,
    }
}

/// A scaled integer as a decimal string, trailing zeros trimmed.
fn scaled_str(v: i128, scale: u8) -> String {
    let mut b = Vec::with_capacity(48);
    wire::put_scaled_i128(&mut b, v, scale);
    String::from_utf8(b).unwrap_or_default()
}

/// Money (at [`wire::MONEY_SCALE`]) as a decimal string.
fn money_str(v: i128) -> String {
    scaled_str(v, wire::MONEY_SCALE)
}

/// A UUID-looking id as a bare string (see [`wire::put_quuid`]).
fn uuid_str(hi: u64, lo: u64) -> String {
    let mut b = Vec::with_capacity(40);
    wire::put_quuid(&mut b, hi, lo);
    String::from_utf8(b)
        .map(|s| s.trim_matches('"').to_string())
        .unwrap_or_default()
}

/// A public trade's id as `publicTrade` writes it (`i`, from the same two
/// words as [`wire::put_trade_msg`]), so a REST row and its push match.
fn trade_uuid(trade_id: u64) -> String {
    uuid_str(trade_id.wrapping_mul(0x9e37_79b9_7f4a_7c15), trade_id)
}

/// `(last − prev) / prev` with `scale` decimals, truncated toward zero.
fn change_ratio(last: i64, prev: i64, scale: u8) -> String {
    if prev <= 0 {
        return "0".into();
    }
    let v = i128::from(last - prev) * pow10(scale) / i128::from(prev);
    scaled_str(v, scale)
}

impl Exchange {
    /// Builds the exchange: books, accounts, market model (a replay is loaded here).
    pub fn new(cfg: ExchangeConfig) -> Result<Exchange, SimError> {
        if cfg.symbols.is_empty() {
            return Err(SimError::BadConfig("no symbols"));
        }
        let mut books = Vec::with_capacity(cfg.symbols.len());
        for s in &cfg.symbols {
            let tick = step_of(&s.tick_size)?;
            let lot = step_of(&s.qty_step)?;
            if tick.scale() + lot.scale() > wire::MONEY_SCALE {
                return Err(SimError::BadConfig(
                    "tick and qty step too fine for 12-decimal money",
                ));
            }
            let symbol = Symbol::from_str(&s.symbol).map_err(|_| SimError::BadConfig("symbol"))?;
            if books
                .iter()
                .any(|b: &Book| b.symbol == symbol && b.cat == s.category)
            {
                return Err(SimError::BadConfig("duplicate symbol"));
            }
            let sink: FillSink = Arc::new(Mutex::new(Vec::new()));
            let clock = Arc::new(SimClock(AtomicU64::new(0)));
            let mut ob = OrderBook::<()>::with_clock(&s.symbol, clock.clone());
            let sink2 = sink.clone();
            ob.set_trade_listener(Arc::new(move |r: &TradeResult| {
                if let Ok(mut v) = sink2.lock() {
                    for t in r.match_result.trades().as_vec() {
                        v.push(RawFill {
                            taker: t.taker_order_id().as_u64().unwrap_or(0),
                            maker: t.maker_order_id().as_u64().unwrap_or(0),
                            price: t.price().as_u128() as i64,
                            qty: t.quantity().as_u64() as i64,
                            taker_side: match t.taker_side() {
                                orderbook_rs::Side::Buy => Side::Buy,
                                orderbook_rs::Side::Sell => Side::Sell,
                            },
                        });
                    }
                }
            }));
            let cnt = |v: &str, st: Step, what: &'static str| -> Result<i64, SimError> {
                st.count(v.as_bytes())
                    .map_err(|_| SimError::BadConfig(what))
            };
            let money_per_tl = i128::from(tick.units())
                * i128::from(lot.units())
                * pow10(wire::MONEY_SCALE - tick.scale() - lot.scale());
            let money_per_lot = i128::from(lot.units()) * pow10(wire::MONEY_SCALE - lot.scale());
            books.push(Book {
                symbol,
                cat: s.category,
                tick,
                lot,
                base: s.base_coin.clone(),
                quote: s.quote_coin.clone(),
                min_qty: cnt(&s.min_qty, lot, "min_qty off the qty grid")?,
                max_qty: cnt(&s.max_qty, lot, "max_qty off the qty grid")?,
                min_notional: money_of(&s.min_notional)?,
                typical: lot
                    .count_floor(s.typical_qty.as_bytes())
                    .unwrap_or(1)
                    .max(1),
                start_price: cnt(&s.start_price, tick, "start_price off the tick grid")?.max(1),
                ob,
                sink,
                clock,
                l2: [BTreeMap::new(), BTreeMap::new()],
                synth: [BTreeMap::new(), BTreeMap::new()],
                seq: 1_000_000 + (cfg.seed % 1000) * 1000,
                last_price: 0,
                last_dir: 0,
                dirty: [None, None],
                book_topics: Vec::new(),
                trade_topic: None,
                trades: Vec::new(),
                recent: VecDeque::new(),
                minutes: VecDeque::new(),
                before_minutes: 0,
                money_per_tl,
                money_per_lot,
            });
        }
        let mut accounts = Vec::new();
        let mut acct_by_uid = HashMap::new();
        let mut acct_by_key = HashMap::new();
        for a in &cfg.accounts {
            if acct_by_uid.contains_key(&a.uid) || acct_by_key.contains_key(&a.api_key) {
                return Err(SimError::BadConfig("duplicate uid or api key"));
            }
            let mut acc = Account {
                uid: a.uid,
                api_key: a.api_key.clone(),
                secret: a.api_secret.clone(),
                coins: BTreeMap::new(),
                positions: BTreeMap::new(),
                open_by_book: vec![0; books.len()],
                linear_order_value: 0,
                audit: vec![BookAudit::default(); books.len()],
            };
            for (coin, amt) in &a.balances {
                acc.coin(coin).wallet += money_of(amt)?;
            }
            acct_by_uid.insert(a.uid, accounts.len());
            acct_by_key.insert(a.api_key.clone(), accounts.len());
            accounts.push(acc);
        }
        let market = match &cfg.market {
            MarketModel::Quiet => MarketState::Quiet,
            MarketModel::Synthetic(p) => {
                let states = books
                    .iter()
                    .map(|b| SymState {
                        mid2: 2 * b.start_price,
                        typical: b.typical,
                    })
                    .collect();
                MarketState::Synth {
                    gen: Synth::new(p.clone(), cfg.seed),
                    states,
                    start_us: None,
                    done: 0,
                }
            }
            MarketModel::Replay(r) => {
                let sym = Symbol::from_str(&r.symbol)
                    .map_err(|_| SimError::BadConfig("replay symbol"))?;
                let bi = books
                    .iter()
                    .position(|b| b.symbol == sym && b.cat == r.category)
                    .ok_or(SimError::BadConfig("replay symbol is not configured"))?;
                let msgs = market::load_recording(&r.path, books[bi].tick, books[bi].lot)?;
                MarketState::Replay(ReplayState {
                    msgs,
                    pos: 0,
                    speed: r.speed,
                    anchor: None,
                    book: bi,
                })
            }
        };
        let mut ex = Exchange {
            seed: cfg.seed,
            // mix(0) = 0: the default instance salts nothing.
            id_salt: cfg.seed ^ market::mix(cfg.instance.nonce),
            instance: cfg.instance,
            fees: cfg.fees,
            leverage: i128::from(cfg.leverage.max(1)),
            max_open: cfg.max_open_orders,
            paced: cfg.paced,
            books,
            accounts,
            acct_by_uid,
            acct_by_key,
            orders: BTreeMap::new(),
            open_keys: BTreeSet::new(),
            by_order_id: HashMap::new(),
            by_link: HashMap::new(),
            closed_fifo: VecDeque::new(),
            owners: HashMap::new(),
            next_ob_id: 1,
            next_key: 1,
            next_exec: 1,
            next_trade: 1,
            next_msg: 1,
            topics: Vec::new(),
            topic_by_name: HashMap::new(),
            market,
            pub_batch: PublicBatch::default(),
            priv_batch: PrivateBatch::default(),
            pend_orders: Vec::new(),
            pend_execs: Vec::new(),
            exec_hist: HashMap::new(),
            pend_pos: Vec::new(),
            pend_wallet: Vec::new(),
            fills: Vec::new(),
            scratch: Vec::new(),
            changes: [Vec::new(), Vec::new()],
            now: 0,
        };
        if let MarketState::Synth { .. } = ex.market {
            ex.seed_synthetic_books();
        }
        Ok(ex)
    }

    /// Puts an initial ladder on every book so the synthetic market starts two-sided.
    fn seed_synthetic_books(&mut self) {
        let levels = match &self.market {
            MarketState::Synth { gen, .. } => gen.params.levels.max(2) as i64,
            _ => return,
        };
        for b in 0..self.books.len() {
            let mid = self.books[b].start_price;
            let typ = self.books[b].typical;
            for d in 0..levels {
                let mix = market::mix(self.seed ^ (d as u64) << 8 ^ b as u64);
                if d > 0 && mix % 100 < 20 {
                    continue;
                }
                let q = typ + (mix % typ.max(1) as u64) as i64;
                if mid - 1 - d >= 1 {
                    self.synth_add(b, Side::Buy, mid - 1 - d, q);
                }
                self.synth_add(b, Side::Sell, mid + 1 + d, q);
            }
            self.books[b].dirty = [None, None];
            self.books[b].trades.clear();
        }
    }

    /// The uid and secret of an API key.
    pub fn account_by_key(&self, api_key: &str) -> Option<(u64, &str)> {
        let a = self.accounts.get(*self.acct_by_key.get(api_key)?)?;
        Some((a.uid, a.secret.as_str()))
    }

    fn set_now(&mut self, now_ms: u64) {
        // Exchange time never runs backwards.
        self.now = self.now.max(now_ms);
        for b in &self.books {
            b.clock.0.store(self.now, Ordering::Relaxed);
        }
    }

    fn find_book(&self, cat: Category, symbol: &str) -> Option<usize> {
        let sym = Symbol::from_str(symbol).ok()?;
        self.books
            .iter()
            .position(|b| b.symbol == sym && b.cat == cat)
    }

    // ------------------------------------------------------------------
    // Matching primitives

    fn new_ob_id(&mut self) -> u64 {
        let id = self.next_ob_id;
        self.next_ob_id += 1;
        id
    }

    /// Adds a limit order to orderbook-rs and absorbs the fills it caused.
    /// Returns the lots the new order took as taker.
    fn ob_add(
        &mut self,
        b: usize,
        ob_id: u64,
        side: Side,
        price: i64,
        qty: i64,
        tif: TimeInForce,
    ) -> i64 {
        let book = &self.books[b];
        // An IOC/FOK remainder can come back as an error although it filled;
        // fills are taken from the trade listener either way.
        let _ = book.ob.add_limit_order(
            Id::Sequential(ob_id),
            price as u128,
            qty as u64,
            ob_side(side),
            tif,
            None,
        );
        self.absorb_fills(b, ob_id)
    }

    /// Drains the trade listener and applies every fill; returns the lots
    /// `taker_id` took.
    fn absorb_fills(&mut self, b: usize, taker_id: u64) -> i64 {
        {
            let Ok(mut v) = self.books[b].sink.lock() else {
                return 0;
            };
            std::mem::swap(&mut *v, &mut self.fills);
        }
        if self.fills.is_empty() {
            return 0;
        }
        let mut taken = 0;
        let mut fills = std::mem::take(&mut self.fills);
        let now = self.now;
        let seq = self.books[b].seq;
        for f in fills.iter().copied() {
            if f.taker == taker_id {
                taken += f.qty;
            }
            let maker_side = f.taker_side.opposite();
            {
                let book = &mut self.books[b];
                book.l2_add(maker_side, f.price, -f.qty);
                let dir = if book.last_price == 0 || f.price == book.last_price {
                    if book.last_dir == 0 || book.last_dir == 1 {
                        1
                    } else {
                        3
                    }
                } else if f.price > book.last_price {
                    0
                } else {
                    2
                };
                book.last_dir = dir;
                book.last_price = f.price;
                let tid = self.next_trade;
                self.next_trade += 1;
                let print = TradePrint {
                    time_ms: now,
                    price: f.price,
                    qty: f.qty,
                    taker_side: f.taker_side,
                    trade_id: tid ^ (self.id_salt << 20),
                    seq,
                    tick_dir: dir,
                };
                book.remember(&print);
                book.trades.push(print);
            }
            match self.owners.get(&f.maker).copied() {
                Some(Owner::Client(k)) => self.client_fill(k, f.price, f.qty, true),
                _ => {
                    let book = &mut self.books[b];
                    let lvl = book.synth[si(maker_side)].get_mut(&f.price);
                    if let Some(q) = lvl {
                        if let Some(pos) = q.iter().position(|e| e.0 == f.maker) {
                            if let Some(e) = q.get_mut(pos) {
                                e.1 -= f.qty;
                                if e.1 <= 0 {
                                    q.remove(pos);
                                    self.owners.remove(&f.maker);
                                }
                            }
                        }
                        if q.is_empty() {
                            book.synth[si(maker_side)].remove(&f.price);
                        }
                    }
                }
            }
            if let Some(Owner::Client(k)) = self.owners.get(&f.taker).copied() {
                self.client_fill(k, f.price, f.qty, false);
            }
        }
        fills.clear();
        self.fills = fills;
        taken
    }

    fn synth_add(&mut self, b: usize, side: Side, price: i64, qty: i64) {
        if price < 1 || qty < 1 {
            return;
        }
        self.books[b].seq += 1;
        let id = self.new_ob_id();
        self.owners.insert(id, Owner::Synth);
        let taken = self.ob_add(b, id, side, price, qty, TimeInForce::Gtc);
        let rest = qty - taken;
        if rest > 0 {
            let book = &mut self.books[b];
            book.synth[si(side)]
                .entry(price)
                .or_default()
                .push_back((id, rest));
            book.l2_add(side, price, rest);
        } else {
            self.owners.remove(&id);
        }
    }

    /// Removes up to `qty` synthetic lots at a level, newest first.
    fn synth_cancel(&mut self, b: usize, side: Side, price: i64, mut qty: i64) {
        self.books[b].seq += 1;
        let book = &mut self.books[b];
        let Some(q) = book.synth[si(side)].get_mut(&price) else {
            return;
        };
        let mut removed = 0;
        while qty > 0 {
            let Some(&(id, lots)) = q.back() else { break };
            if lots <= qty {
                let _ = book.ob.cancel_order(Id::Sequential(id));
                q.pop_back();
                self.owners.remove(&id);
                qty -= lots;
                removed += lots;
            } else {
                let ok = book.ob.update_order(OrderUpdate::UpdateQuantity {
                    order_id: Id::Sequential(id),
                    new_quantity: Quantity::new((lots - qty) as u64),
                });
                if ok.is_ok() {
                    if let Some(e) = q.back_mut() {
                        e.1 = lots - qty;
                    }
                    removed += qty;
                }
                qty = 0;
            }
        }
        if q.is_empty() {
            book.synth[si(side)].remove(&price);
        }
        book.l2_add(side, price, -removed);
    }

    fn synth_take(&mut self, b: usize, side: Side, qty: i64) {
        if qty < 1 {
            return;
        }
        self.books[b].seq += 1;
        let id = self.new_ob_id();
        let _ = self.books[b]
            .ob
            .submit_market_order(Id::Sequential(id), qty as u64, ob_side(side));
        self.absorb_fills(b, id);
    }

    // ------------------------------------------------------------------
    // Test / server hooks that drive the book directly

    /// Rests synthetic liquidity (`qty` lots at `price` ticks) at the back of the
    /// queue; crosses and trades if it is marketable. Produces public messages.
    pub fn inject_limit(
        &mut self,
        category: Category,
        symbol: &str,
        side: Side,
        price: i64,
        qty: i64,
        now_ms: u64,
    ) -> bool {
        let Some(b) = self.find_book(category, symbol) else {
            return false;
        };
        self.set_now(now_ms);
        self.synth_add(b, side, price, qty);
        self.end_event();
        true
    }

    /// Removes up to `qty` lots of synthetic liquidity at a level (newest first).
    pub fn inject_cancel(
        &mut self,
        category: Category,
        symbol: &str,
        side: Side,
        price: i64,
        qty: i64,
        now_ms: u64,
    ) -> bool {
        let Some(b) = self.find_book(category, symbol) else {
            return false;
        };
        self.set_now(now_ms);
        self.synth_cancel(b, side, price, qty);
        self.end_event();
        true
    }

    /// An aggressive synthetic market order of `qty` lots on `side` (the taker side).
    pub fn inject_take(
        &mut self,
        category: Category,
        symbol: &str,
        side: Side,
        qty: i64,
        now_ms: u64,
    ) -> bool {
        let Some(b) = self.find_book(category, symbol) else {
            return false;
        };
        self.set_now(now_ms);
        self.synth_take(b, side, qty);
        self.end_event();
        true
    }

    /// The two halves of execution `exec`'s `execId` ([`wire::put_quuid`]):
    /// salted by this start's seed, so every writer renders it alike.
    fn exec_id_halves(&self, exec: u64) -> (u64, u64) {
        (market::mix(self.id_salt ^ exec), exec)
    }

    /// The exchange's audit of one account on one book (see [`BookAudit`]),
    /// with the executions rendered as the `execId`s its pushes carried.
    pub fn audit(&self, api_key: &str, category: Category, symbol: &str) -> Option<AccountAudit> {
        let b = self.find_book(category, symbol)?;
        let a = self.accounts.get(*self.acct_by_key.get(api_key)?)?;
        let book = a.audit.get(b)?.clone();
        let exec_ids = book
            .execs
            .iter()
            .map(|&e| {
                let (hi, lo) = self.exec_id_halves(e);
                uuid_str(hi, lo)
            })
            .collect();
        Some(AccountAudit { book, exec_ids })
    }

    /// The exchange's own view of a book: best-first (price ticks, lots), up to `depth`.
    pub fn book_levels(
        &self,
        symbol: &str,
        category: Category,
        depth: usize,
    ) -> Option<(Levels, Levels)> {
        let b = self.books.get(self.find_book(category, symbol)?)?;
        let mut bids = Vec::new();
        let mut asks = Vec::new();
        b.levels(Side::Buy, depth, &mut bids);
        b.levels(Side::Sell, depth, &mut asks);
        Some((bids, asks))
    }

    /// Lots resting at a price in the matching engine itself (orderbook-rs),
    /// for cross-checking the aggregated view.
    pub fn engine_qty_at(
        &self,
        symbol: &str,
        category: Category,
        side: Side,
        price: i64,
    ) -> Option<u64> {
        let b = self.books.get(self.find_book(category, symbol)?)?;
        b.ob.total_quantity_at_price(price as u128, ob_side(side))
            .ok()
            .map(|q| q.unwrap_or(0))
    }

    // ------------------------------------------------------------------
    // Market model

    /// Advances the market model up to `now_ms`, applying at most `max_events`.
    /// Returns how many events were applied and when the next one is due
    /// (None: nothing more will ever come, e.g. Quiet or a finished replay).
    /// In paced mode the next-due time also covers book topics whose
    /// coalesced changes are waiting for their push interval.
    pub fn step(&mut self, now_ms: u64, max_events: usize) -> (usize, Option<u64>) {
        self.set_now(now_ms);
        self.flush_due();
        let (n, next) = self.step_market(now_ms, max_events);
        let pushes = self.flush_due();
        let next = match (next, pushes) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        (n, next)
    }

    fn step_market(&mut self, now_ms: u64, max_events: usize) -> (usize, Option<u64>) {
        let mut n = 0;
        match std::mem::replace(&mut self.market, MarketState::Quiet) {
            MarketState::Quiet => (0, None),
            MarketState::Synth {
                mut gen,
                mut states,
                mut start_us,
                mut done,
            } => {
                let eps = u128::from(gen.params.events_per_sec);
                let now_us = u128::from(now_ms) * 1000;
                let start = *start_us.get_or_insert(now_us);
                let due = |k: u64| start + u128::from(k) * 1_000_000 / eps.max(1);
                while n < max_events && (eps == 0 || due(done) <= now_us) {
                    let bi = gen.pick(self.books.len());
                    if let Some(st) = states.get_mut(bi) {
                        let act = gen.next_action(st, &self.books[bi]);
                        self.apply_action(bi, act);
                    }
                    self.end_event();
                    done += 1;
                    n += 1;
                }
                let next = if eps == 0 {
                    now_ms
                } else {
                    due(done).div_ceil(1000) as u64
                };
                self.market = MarketState::Synth {
                    gen,
                    states,
                    start_us,
                    done,
                };
                (n, Some(next))
            }
            MarketState::Replay(mut r) => {
                let anchor = *r.anchor.get_or_insert(now_ms);
                while n < max_events {
                    match r.due(r.pos, anchor) {
                        Some(t) if t <= now_ms => {}
                        _ => break,
                    }
                    if let Some(m) = r.msgs.get(r.pos).cloned() {
                        self.apply_recorded(r.book, &m);
                        self.end_event();
                    }
                    r.pos += 1;
                    n += 1;
                }
                let next = r.due(r.pos, anchor);
                self.market = MarketState::Replay(r);
                (n, next)
            }
        }
    }

    fn apply_action(&mut self, b: usize, act: Action) {
        match act {
            Action::Add { side, price, qty } => self.synth_add(b, side, price, qty),
            Action::Cancel { side, price, qty } => self.synth_cancel(b, side, price, qty),
            Action::Take { side, qty } => self.synth_take(b, side, qty),
            Action::Idle => {}
        }
    }

    /// Applies one recorded snapshot/delta by adjusting synthetic orders per
    /// level: decreases (newest first) before increases (at the back of the queue).
    fn apply_recorded(&mut self, b: usize, m: &market::RecMsg) {
        if m.snapshot {
            for side in [Side::Buy, Side::Sell] {
                let keep: &[(i64, i64)] = if side == Side::Buy { &m.bids } else { &m.asks };
                let gone: Vec<i64> = self.books[b].synth[si(side)]
                    .keys()
                    .copied()
                    .filter(|p| !keep.iter().any(|l| l.0 == *p))
                    .collect();
                for p in gone {
                    let q = self.books[b].synth_total(side, p);
                    self.synth_cancel(b, side, p, q);
                }
            }
        }
        for (side, lv) in [(Side::Buy, &m.bids), (Side::Sell, &m.asks)] {
            for &(p, q) in lv.iter() {
                let cur = self.books[b].synth_total(side, p);
                if q < cur {
                    self.synth_cancel(b, side, p, cur - q);
                }
            }
        }
        for (side, lv) in [(Side::Buy, &m.bids), (Side::Sell, &m.asks)] {
            for &(p, q) in lv.iter() {
                let cur = self.books[b].synth_total(side, p);
                if q > cur {
                    self.synth_add(b, side, p, q - cur);
                }
            }
        }
    }

    // ------------------------------------------------------------------
    // Public feed

    /// Registers interest in a public topic (`orderbook.{1|50|200|1000}.{SYMBOL}`
    /// or `publicTrade.{SYMBOL}`); the same name returns the same handle.
    pub fn open_topic(&mut self, category: Category, topic: &str) -> Result<TopicId, SimError> {
        if let Some(&i) = self
            .topic_by_name
            .get(&(category, topic.as_bytes().to_vec()))
        {
            return Ok(TopicId(i as u32));
        }
        let (kind, sym) = if let Some(rest) = topic.strip_prefix("orderbook.") {
            let (d, sym) = rest.split_once('.').ok_or(SimError::UnknownTopic)?;
            let depth: usize = match d {
                "1" => 1,
                "50" => 50,
                "200" => 200,
                "1000" => 1000,
                _ => return Err(SimError::UnknownTopic),
            };
            (
                TopicKind::Book {
                    depth,
                    u: 1_000 + depth as u64,
                    view: [Vec::new(), Vec::new()],
                    skip: false,
                },
                sym,
            )
        } else if let Some(sym) = topic.strip_prefix("publicTrade.") {
            (TopicKind::Trade, sym)
        } else {
            return Err(SimError::UnknownTopic);
        };
        let b = self
            .find_book(category, sym)
            .ok_or(SimError::UnknownTopic)?;
        let idx = self.topics.len();
        let mut t = Topic {
            book: b,
            open: true,
            pending: [None, None],
            next_push: 0,
            name: topic.as_bytes().to_vec(),
            kind,
        };
        if let TopicKind::Book { depth, view, .. } = &mut t.kind {
            self.books[b].levels(Side::Buy, *depth, &mut view[0]);
            self.books[b].levels(Side::Sell, *depth, &mut view[1]);
            self.books[b].book_topics.push(idx);
        } else {
            self.books[b].trade_topic = Some(idx);
        }
        self.topics.push(t);
        self.topic_by_name
            .insert((category, topic.as_bytes().to_vec()), idx);
        Ok(TopicId(idx as u32))
    }

    /// Stops producing frames for a topic (its last subscriber left). The
    /// handle stays invalid afterwards; opening the name again makes a fresh
    /// topic. False if the handle was unknown or already closed.
    pub fn close_topic(&mut self, topic: TopicId) -> bool {
        let ti = topic.0 as usize;
        let Some(t) = self.topics.get_mut(ti) else {
            return false;
        };
        if !t.open {
            return false;
        }
        t.open = false;
        let b = t.book;
        let book = &mut self.books[b];
        book.book_topics.retain(|&x| x != ti);
        if book.trade_topic == Some(ti) {
            book.trade_topic = None;
        }
        self.topic_by_name.retain(|_, v| *v != ti);
        true
    }

    /// Writes the snapshot frame for a new subscriber (current `u`) into `out`
    /// (cleared first). False for a trade topic or an unknown handle.
    pub fn snapshot_message(&mut self, topic: TopicId, now_ms: u64, out: &mut Vec<u8>) -> bool {
        out.clear();
        let Some(t) = self.topics.get(topic.0 as usize).filter(|t| t.open) else {
            return false;
        };
        let TopicKind::Book { u, view, .. } = &t.kind else {
            return false;
        };
        let book = &self.books[t.book];
        let ts = now_ms.max(self.now);
        let m = BookMsg {
            topic: &t.name,
            symbol: book.symbol.as_bytes(),
            snapshot: true,
            ts,
            cts: self.now,
            u: *u,
            seq: book.seq,
            tick: book.tick,
            lot: book.lot,
        };
        wire::put_book_msg(out, &m, &view[0], &view[1]);
        true
    }

    /// How many public frames have been produced since the last
    /// [`Exchange::drain_public`] (they leave in production order).
    pub fn pending_public(&self) -> usize {
        self.pub_batch.len()
    }

    /// Moves the public frames produced since the last call into `out`
    /// (whose old contents are dropped; its buffers are reused next time).
    pub fn drain_public(&mut self, out: &mut PublicBatch) {
        out.clear();
        std::mem::swap(out, &mut self.pub_batch);
    }

    /// Moves the private pushes produced since the last call into `out`.
    pub fn drain_private(&mut self, out: &mut PrivateBatch) {
        out.clear();
        std::mem::swap(out, &mut self.priv_batch);
    }

    /// Fault: every book topic of the symbol restarts — a `u = 1` snapshot is
    /// emitted now and deltas continue from 2.
    pub fn restart_book(&mut self, category: Category, symbol: &str, now_ms: u64) -> bool {
        let Some(b) = self.find_book(category, symbol) else {
            return false;
        };
        self.set_now(now_ms);
        self.end_event();
        let topics = self.books[b].book_topics.clone();
        for ti in topics {
            if let Some(Topic {
                kind: TopicKind::Book { u, .. },
                ..
            }) = self.topics.get_mut(ti)
            {
                *u = 1;
            }
            self.emit_book_snapshot(ti);
        }
        true
    }

    /// Fault: the next delta of this topic skips one update id (`u` jumps by 2).
    pub fn skip_update_id(&mut self, topic: TopicId) -> bool {
        match self.topics.get_mut(topic.0 as usize) {
            Some(Topic {
                kind: TopicKind::Book { skip, .. },
                open: true,
                ..
            }) => {
                *skip = true;
                true
            }
            _ => false,
        }
    }

    fn emit_book_snapshot(&mut self, ti: usize) {
        let Some(t) = self.topics.get(ti) else { return };
        let TopicKind::Book { u, view, .. } = &t.kind else {
            return;
        };
        let book = &self.books[t.book];
        let start = self.pub_batch.bytes.len();
        let m = BookMsg {
            topic: &t.name,
            symbol: book.symbol.as_bytes(),
            snapshot: true,
            ts: self.now,
            cts: self.now,
            u: *u,
            seq: book.seq,
            tick: book.tick,
            lot: book.lot,
        };
        wire::put_book_msg(&mut self.pub_batch.bytes, &m, &view[0], &view[1]);
        let end = self.pub_batch.bytes.len();
        self.pub_batch.items.push(PublicOut {
            topic: TopicId(ti as u32),
            update_id: Some(*u),
            range: start..end,
        });
    }

    /// Ends one matching event: public frames for every touched book, then
    /// private pushes.
    fn end_event(&mut self) {
        for b in 0..self.books.len() {
            if self.books[b].dirty != [None, None] || !self.books[b].trades.is_empty() {
                self.flush_public(b);
            }
        }
        self.flush_due();
        if !(self.pend_orders.is_empty()
            && self.pend_execs.is_empty()
            && self.pend_pos.is_empty()
            && self.pend_wallet.is_empty())
        {
            self.flush_private();
        }
    }

    fn flush_public(&mut self, b: usize) {
        let now = self.now;
        if !self.books[b].trades.is_empty() {
            if let Some(ti) = self.books[b].trade_topic {
                let book = &self.books[b];
                let start = self.pub_batch.bytes.len();
                wire::put_trade_msg(
                    &mut self.pub_batch.bytes,
                    &self.topics[ti].name,
                    book.symbol.as_bytes(),
                    now,
                    book.cat == Category::Linear,
                    &book.trades,
                    book.tick,
                    book.lot,
                );
                let end = self.pub_batch.bytes.len();
                self.pub_batch.items.push(PublicOut {
                    topic: TopicId(ti as u32),
                    update_id: None,
                    range: start..end,
                });
            }
            self.books[b].trades.clear();
        }
        let dirty = self.books[b].dirty;
        self.books[b].dirty = [None, None];
        if dirty == [None, None] {
            return;
        }
        for k in 0..self.books[b].book_topics.len() {
            let ti = self.books[b].book_topics[k];
            if let Some(t) = self.topics.get_mut(ti) {
                t.pending = merge_dirty(t.pending, dirty);
            }
            self.try_push(ti);
        }
    }

    /// Emits a topic's pending changes if it may push now.
    fn try_push(&mut self, ti: usize) {
        let now = self.now;
        let Some(t) = self.topics.get_mut(ti) else {
            return;
        };
        if t.pending == [None, None] || (self.paced && now < t.next_push) {
            return;
        }
        let pending = std::mem::take(&mut t.pending);
        if self.paced {
            let interval = match &t.kind {
                TopicKind::Book { depth: 1, .. } => 10,
                TopicKind::Book { depth: 50, .. } => 20,
                TopicKind::Book { depth: 200, .. } => 100,
                _ => 200,
            };
            t.next_push = now + interval;
        }
        self.update_topic(ti, pending);
    }

    /// Paced mode: pushes every topic whose interval has elapsed; returns the
    /// earliest time a still-pending topic becomes due.
    fn flush_due(&mut self) -> Option<u64> {
        if !self.paced {
            return None;
        }
        let mut next: Option<u64> = None;
        for ti in 0..self.topics.len() {
            if self.topics[ti].open && self.topics[ti].pending != [None, None] {
                self.try_push(ti);
                let t = &self.topics[ti];
                if t.pending != [None, None] {
                    next = Some(next.map_or(t.next_push, |n| n.min(t.next_push)));
                }
            }
        }
        next
    }

    /// Recomputes a topic's top-N view for the dirty sides and emits the
    /// delta (or, for depth 1, a snapshot) if anything visible changed.
    fn update_topic(&mut self, ti: usize, dirty: [Option<i64>; 2]) {
        let Some(t) = self.topics.get_mut(ti) else {
            return;
        };
        let book = &self.books[t.book];
        let TopicKind::Book {
            depth,
            u,
            view,
            skip,
        } = &mut t.kind
        else {
            return;
        };
        let mut any = false;
        for (s, side) in [(0usize, Side::Buy), (1, Side::Sell)] {
            self.changes[s].clear();
            let Some(p) = dirty[s] else { continue };
            let v = &mut view[s];
            if v.len() >= *depth {
                if let Some(&(last, _)) = v.last() {
                    let outside = match side {
                        Side::Buy => p < last,
                        Side::Sell => p > last,
                    };
                    if outside {
                        continue;
                    }
                }
            }
            book.levels(side, *depth, &mut self.scratch);
            diff_levels(v, &self.scratch, side, &mut self.changes[s]);
            std::mem::swap(v, &mut self.scratch);
            any |= !self.changes[s].is_empty();
        }
        if !any {
            return;
        }
        *u += if *skip { 2 } else { 1 };
        *skip = false;
        let snapshot = *depth == 1;
        let m = BookMsg {
            topic: &t.name,
            symbol: book.symbol.as_bytes(),
            snapshot,
            ts: self.now,
            cts: self.now,
            u: *u,
            seq: book.seq,
            tick: book.tick,
            lot: book.lot,
        };
        let start = self.pub_batch.bytes.len();
        if snapshot {
            wire::put_book_msg(&mut self.pub_batch.bytes, &m, &view[0], &view[1]);
        } else {
            wire::put_book_msg(
                &mut self.pub_batch.bytes,
                &m,
                &self.changes[0],
                &self.changes[1],
            );
        }
        let end = self.pub_batch.bytes.len();
        self.pub_batch.items.push(PublicOut {
            topic: TopicId(ti as u32),
            update_id: Some(*u),
            range: start..end,
        });
    }

    // ------------------------------------------------------------------
    // Requests

    /// Handles one authenticated, rate-limited request. `params` is the JSON
    /// object of the request (REST body or query as strings, or WS `args[0]`).
    pub fn request(&mut self, uid: Option<u64>, op: Op, params: &Value, now_ms: u64) -> Reply {
        self.set_now(now_ms);
        let reply = self.dispatch(uid, op, params);
        self.end_event();
        reply
    }

    fn dispatch(&mut self, uid: Option<u64>, op: Op, p: &Value) -> Reply {
        match op {
            Op::Time => {
                let ms = self.now;
                return Reply::ok(json!({
                    "timeSecond": (ms / 1000).to_string(),
                    "timeNano": (u128::from(ms) * 1_000_000).to_string(),
                }));
            }
            Op::InstrumentsInfo => return self.instruments(p),
            Op::Orderbook => return self.rest_orderbook(p),
            Op::Tickers => return self.tickers(p),
            Op::RecentTrade => return self.recent_trades(p),
            _ => {}
        }
        let known = uid.filter(|u| self.acct_by_uid.contains_key(u));
        // Account-wide endpoints: no category.
        if matches!(op, Op::CoinInfo | Op::QueryApi | Op::AccountInfo) {
            let Some(uid) = known else {
                return Reply::err(rej(10003, "API key is invalid."));
            };
            return match op {
                Op::CoinInfo => self.coin_info(p),
                Op::QueryApi => self.query_api(uid),
                _ => Reply::ok(account::account_info(self.instance.started_ms)),
            };
        }
        // The account holds nothing in the categories the simulator lists no
        // products of: its order history there is empty.
        if op == Op::OrderHistory {
            if let Some(other) = unlisted_category(p) {
                if known.is_none() {
                    return Reply::err(rej(10003, "API key is invalid."));
                }
                return Reply::ok(json!({"category": other, "nextPageCursor": "", "list": []}));
            }
        }
        let cat = match pstr(p, "category").and_then(|c| Category::parse(c.as_bytes())) {
            Some(c) => c,
            None if op == Op::WalletBalance => Category::Linear,
            None => return Reply::err(rej(10001, "params error: category invalid")),
        };
        let c = codes(cat);
        let Some(uid) = known else {
            return Reply::err(rej(10003, "API key is invalid."));
        };
        match op {
            Op::Create => match self.create_one(uid, cat, p) {
                Ok(k) => {
                    let o = &self.orders[&k];
                    Reply::ok(
                        json!({"orderId": o.order_id.as_str(), "orderLinkId": o.link.as_str()}),
                    )
                }
                Err(r) => Reply::err(r),
            },
            Op::Amend => match self.amend_one(uid, cat, p) {
                Ok((id, link)) => {
                    Reply::ok(json!({"orderId": id.as_str(), "orderLinkId": link.as_str()}))
                }
                Err(r) => Reply::err(r),
            },
            Op::Cancel => match self.cancel_one(uid, cat, p) {
                Ok((id, link)) => {
                    Reply::ok(json!({"orderId": id.as_str(), "orderLinkId": link.as_str()}))
                }
                Err(r) => Reply::err(r),
            },
            Op::CreateBatch | Op::AmendBatch | Op::CancelBatch => {
                let Some(items) = p.get("request").and_then(|r| r.as_array()) else {
                    return Reply::err(rej(c.bad_param, "params error: request must be a list"));
                };
                if items.is_empty() || items.len() > c.batch_max {
                    return Reply::err(rej(
                        c.bad_param,
                        "params error: too many or no orders in the batch",
                    ));
                }
                let mut list = Vec::with_capacity(items.len());
                let mut ext = Vec::with_capacity(items.len());
                for it in items {
                    let sym = pstr(it, "symbol").unwrap_or("");
                    let link_in = pstr(it, "orderLinkId").unwrap_or("");
                    let res = match op {
                        Op::CreateBatch => self.create_one(uid, cat, it).map(|k| {
                            let o = &self.orders[&k];
                            (o.order_id, o.link)
                        }),
                        Op::AmendBatch => self.amend_one(uid, cat, it),
                        _ => self.cancel_one(uid, cat, it),
                    };
                    match res {
                        Ok((id, link)) => {
                            let mut e = json!({"category": cat.as_str(), "symbol": sym,
                                "orderId": id.as_str(), "orderLinkId": link.as_str()});
                            if op == Op::CreateBatch {
                                e["createAt"] = json!(self.now.to_string());
                            }
                            list.push(e);
                            ext.push(json!({"code": 0, "msg": "OK"}));
                        }
                        Err(r) => {
                            let mut e = json!({"category": cat.as_str(), "symbol": sym,
                                "orderId": "", "orderLinkId": link_in});
                            if op == Op::CreateBatch {
                                e["createAt"] = json!("");
                            }
                            list.push(e);
                            ext.push(json!({"code": r.code, "msg": r.msg}));
                        }
                    }
                }
                Reply {
                    ret_code: 0,
                    ret_msg: "OK".into(),
                    result: json!({"list": list}),
                    ret_ext_info: json!({"list": ext}),
                }
            }
            Op::CancelAll => self.cancel_all(uid, cat, p),
            Op::OrderRealtime => self.realtime(uid, cat, p),
            Op::OrderHistory => self.order_history(uid, cat, p),
            Op::PositionList => self.position_list(uid, cat, p),
            Op::ExecutionList => self.execution_list(uid, cat, p),
            Op::WalletBalance => self.wallet_balance(uid, p),
            Op::Time
            | Op::InstrumentsInfo
            | Op::Orderbook
            | Op::Tickers
            | Op::RecentTrade
            | Op::CoinInfo
            | Op::QueryApi
            | Op::AccountInfo => Reply::err(rej(10001, "unreachable")),
        }
    }

    fn acct(&mut self, uid: u64) -> &mut Account {
        let i = self.acct_by_uid.get(&uid).copied().unwrap_or(0);
        &mut self.accounts[i]
    }

    /// Re-counts one order's share of its account's open linear order value
    /// (idempotent; call after any change to the order).
    fn im_sync(&mut self, key: u64) {
        let Some(o) = self.orders.get_mut(&key) else {
            return;
        };
        let book = &self.books[o.book];
        let now = if o.status.open() && book.cat == Category::Linear {
            book.tl_money(i128::from(o.price) * i128::from(o.qty - o.cum))
        } else {
            0
        };
        let delta = now - o.im_value;
        o.im_value = now;
        let uid = o.uid;
        if delta != 0 {
            self.acct(uid).linear_order_value += delta;
        }
    }

    /// Initial margin of the open linear orders and positions of `uid`.
    fn linear_im(&self, uid: u64) -> i128 {
        let mut im = 0i128;
        if let Some(&ai) = self.acct_by_uid.get(&uid) {
            im += self.accounts[ai].linear_order_value;
            for (&b, pos) in &self.accounts[ai].positions {
                im += self.books[b].tl_money(pos.cost);
            }
        }
        im / self.leverage
    }

    /// Recomputes the incrementally kept state the slow way and reports the
    /// first disagreement (for tests; O(orders + levels)).
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        for a in &self.accounts {
            let mut v = 0i128;
            let mut open = vec![0u32; self.books.len()];
            for o in self.orders.values() {
                if o.uid == a.uid && o.status.open() {
                    if let Some(n) = open.get_mut(o.book) {
                        *n += 1;
                    }
                    if self.books[o.book].cat == Category::Linear {
                        v += self.books[o.book]
                            .tl_money(i128::from(o.price) * i128::from(o.qty - o.cum));
                    }
                }
            }
            if v != a.linear_order_value {
                return Err("linear open-order value drifted");
            }
            if open != a.open_by_book {
                return Err("open-order counts drifted");
            }
            for (name, c) in &a.coins {
                let locked: i128 = self
                    .orders
                    .values()
                    .filter(|o| o.uid == a.uid && o.status.open())
                    .filter(|o| {
                        let b = &self.books[o.book];
                        (if o.lock_base { &b.base } else { &b.quote }) == name
                    })
                    .map(|o| o.locked)
                    .sum();
                if locked != c.locked {
                    return Err("locked balance differs from the open orders' locks");
                }
            }
        }
        let open_set: BTreeSet<u64> = self
            .orders
            .values()
            .filter(|o| o.status.open())
            .map(|o| o.key)
            .collect();
        if open_set != self.open_keys {
            return Err("open-order index drifted");
        }
        for b in &self.books {
            for (s, side) in [(0usize, Side::Buy), (1, Side::Sell)] {
                for (&p, &q) in &b.l2[s] {
                    let e =
                        b.ob.total_quantity_at_price(p as u128, ob_side(side))
                            .ok()
                            .flatten()
                            .unwrap_or(0);
                    if e != q as u64 {
                        return Err("aggregated level differs from the matching engine");
                    }
                }
            }
        }
        Ok(())
    }

    fn create_one(&mut self, uid: u64, cat: Category, p: &Value) -> Result<u64, Rej> {
        let c = codes(cat);
        let sym = pstr(p, "symbol").ok_or(rej(c.bad_param, "params error: symbol is required"))?;
        let b = self
            .find_book(cat, sym)
            .ok_or(rej(c.bad_symbol, "params error: symbol invalid"))?;
        let side = pstr(p, "side")
            .and_then(|s| Side::parse(s.as_bytes()).ok())
            .ok_or(rej(c.bad_param, "params error: side invalid"))?;
        let market = match pstr(p, "orderType") {
            Some("Limit") => false,
            Some("Market") => true,
            _ => return Err(rej(c.bad_param, "params error: orderType invalid")),
        };
        let tif = match (market, pstr(p, "timeInForce")) {
            (true, _) => Tif::Ioc,
            (false, None) | (false, Some("GTC")) => Tif::Gtc,
            (false, Some("IOC")) => Tif::Ioc,
            (false, Some("FOK")) => Tif::Fok,
            (false, Some("PostOnly")) => Tif::PostOnly,
            _ => return Err(rej(c.bad_param, "params error: timeInForce invalid")),
        };
        let book = &self.books[b];
        let price = if market {
            0
        } else {
            let s = pstr(p, "price").ok_or(rej(
                c.bad_param,
                "params error: price is required for Limit",
            ))?;
            match book.tick.count(s.as_bytes()) {
                Ok(v) if v >= 1 => v,
                Ok(_) => {
                    return Err(rej(
                        c.price_precision,
                        "Order price is out of permissible range.",
                    ))
                }
                Err(UnitError::NotOnGrid) => {
                    return Err(rej(c.price_precision, "Order price decimal too long."))
                }
                Err(_) => return Err(rej(c.bad_param, "params error: price invalid")),
            }
        };
        let qs = pstr(p, "qty").ok_or(rej(c.bad_param, "params error: qty is required"))?;
        // Spot market buys are in quote units unless marketUnit says baseCoin.
        let quote_qty = market
            && cat == Category::Spot
            && side == Side::Buy
            && pstr(p, "marketUnit") != Some("baseCoin");
        let qty = if quote_qty {
            let amt = crate::units::Decimal::parse(qs.as_bytes())
                .ok()
                .and_then(|d| {
                    (d.scale <= wire::MONEY_SCALE)
                        .then(|| i128::from(d.mantissa) * pow10(wire::MONEY_SCALE - d.scale))
                })
                .filter(|v| *v > 0)
                .ok_or(rej(c.bad_param, "params error: qty invalid"))?;
            self.lots_for_quote(b, amt)
        } else {
            match book.lot.count(qs.as_bytes()) {
                Ok(v) => v,
                Err(UnitError::NotOnGrid) => {
                    return Err(rej(
                        c.qty_precision,
                        "Order quantity has too many decimals.",
                    ))
                }
                Err(_) => return Err(rej(c.bad_param, "params error: qty invalid")),
            }
        };
        let book = &self.books[b];
        if qty < book.min_qty.max(1) {
            return Err(rej(c.qty_min, "Order quantity below the lower limit."));
        }
        if qty > book.max_qty {
            return Err(rej(c.qty_max, "Order quantity exceeded the upper limit."));
        }
        let ref_price = if market {
            book.best(side.opposite()).unwrap_or(0)
        } else {
            price
        };
        let notional = book.tl_money(i128::from(ref_price) * i128::from(qty));
        if ref_price > 0 && notional < book.min_notional {
            return Err(rej(c.notional_min, "Order value below the lower limit."));
        }
        let link = match pstr(p, "orderLinkId") {
            Some(s) => order_link_id(s.as_bytes())
                .map_err(|_| rej(c.bad_param, "params error: orderLinkId invalid"))?,
            None => OrderLinkId::default(),
        };
        if !link.is_empty() && self.by_link.contains_key(&(uid, link)) {
            return Err(rej(c.dup_link, "OrderLinkedID is duplicate"));
        }
        let ai = self.acct_by_uid[&uid];
        if self.accounts[ai].open_by_book.get(b).copied().unwrap_or(0) >= self.max_open {
            return Err(rej(c.too_many, "Too many open orders."));
        }
        // Balance / margin.
        let (lock_base, locked) = match cat {
            Category::Spot => {
                let book = &self.books[b];
                if side == Side::Buy {
                    let px = if market {
                        self.worst_fill_price(b, side, qty)
                    } else {
                        price
                    };
                    let need = book.tl_money(i128::from(px) * i128::from(qty));
                    if self.accounts[ai].available(&book.quote) < need {
                        return Err(rej(c.balance, "Insufficient balance."));
                    }
                    (false, if market { 0 } else { need })
                } else {
                    let need = book.lots_money(qty);
                    if self.accounts[ai].available(&book.base) < need {
                        return Err(rej(c.balance, "Insufficient balance."));
                    }
                    (true, if market { 0 } else { need })
                }
            }
            Category::Linear => {
                let book = &self.books[b];
                let px = if market {
                    self.worst_fill_price(b, side, qty)
                } else {
                    price
                };
                let need = book.tl_money(i128::from(px) * i128::from(qty)) / self.leverage;
                let avail = self.accounts[ai].available(&book.quote) - self.linear_im(uid);
                if avail < need {
                    return Err(rej(c.balance, "Insufficient available balance."));
                }
                (false, 0)
            }
        };
        // Accepted.
        let key = self.next_key;
        self.next_key += 1;
        let order_id = self.make_order_id(cat, key);
        let ob_id = self.new_ob_id();
        let now = self.now;
        let o = Order {
            key,
            ob_id,
            uid,
            book: b,
            order_id,
            link,
            side,
            market,
            tif,
            price,
            qty,
            cum: 0,
            cum_value_tl: 0,
            fee: 0,
            status: Status::New,
            reject: "EC_NoError",
            cancel_type: "UNKNOWN",
            created: now,
            updated: now,
            resting: false,
            locked,
            lock_base,
            im_value: 0,
        };
        self.orders.insert(key, o);
        self.open_keys.insert(key);
        self.im_sync(key);
        self.by_order_id.insert(order_id, key);
        if !link.is_empty() {
            self.by_link.insert((uid, link), key);
        }
        if locked > 0 {
            let coin = if lock_base {
                self.books[b].base.clone()
            } else {
                self.books[b].quote.clone()
            };
            self.acct(uid).coin(&coin).locked += locked;
            self.pend_wallet.push(uid);
        }
        if let Some(n) = self.accounts[ai].open_by_book.get_mut(b) {
            *n += 1;
        }
        if let Some(a) = self.accounts[ai].audit.get_mut(b) {
            a.on_open(side_index(side));
        }
        self.pend_orders.push(key);
        if cat == Category::Linear {
            self.pend_pos.push((uid, b));
        }
        // PostOnly that would take liquidity: accepted, then cancelled.
        if tif == Tif::PostOnly {
            let crosses = match side {
                Side::Buy => self.books[b].best(Side::Sell).is_some_and(|a| price >= a),
                Side::Sell => self.books[b].best(Side::Buy).is_some_and(|bb| price <= bb),
            };
            if crosses {
                if let Some(o) = self.orders.get_mut(&key) {
                    o.reject = "EC_PostOnlyWillTakeLiquidity";
                }
                self.finish(key, Status::Cancelled, "UNKNOWN");
                return Ok(key);
            }
        }
        self.owners.insert(ob_id, Owner::Client(key));
        self.books[b].seq += 1;
        if market {
            let _ = self.books[b].ob.submit_market_order(
                Id::Sequential(ob_id),
                qty as u64,
                ob_side(side),
            );
            self.absorb_fills(b, ob_id);
        } else {
            let ob_tif = match tif {
                Tif::Ioc => TimeInForce::Ioc,
                Tif::Fok => TimeInForce::Fok,
                _ => TimeInForce::Gtc,
            };
            self.ob_add(b, ob_id, side, price, qty, ob_tif);
        }
        self.after_taking(key);
        Ok(key)
    }

    /// After an order has matched as taker: rest the remainder (GTC/PostOnly)
    /// or cancel it (IOC/FOK/Market).
    fn after_taking(&mut self, key: u64) {
        let Some(o) = self.orders.get_mut(&key) else {
            return;
        };
        if !o.status.open() {
            return;
        }
        let leaves = o.qty - o.cum;
        if leaves <= 0 {
            return;
        }
        match o.tif {
            Tif::Gtc | Tif::PostOnly => {
                o.resting = true;
                let (b, side, price) = (o.book, o.side, o.price);
                self.books[b].l2_add(side, price, leaves);
            }
            Tif::Ioc | Tif::Fok => {
                if o.cum == 0 {
                    o.reject = "EC_NoImmediateQtyToFill";
                }
                let st = if self.books[o.book].cat == Category::Spot && o.cum > 0 {
                    Status::PartiallyFilledCanceled
                } else {
                    Status::Cancelled
                };
                self.finish(key, st, "UNKNOWN");
            }
        }
    }

    /// Closes an order: status, unlock, bookkeeping, pushes.
    fn finish(&mut self, key: u64, status: Status, cancel_type: &'static str) {
        let now = self.now;
        let Some(o) = self.orders.get_mut(&key) else {
            return;
        };
        let was_open = o.status.open();
        self.open_keys.remove(&key);
        o.status = status;
        o.cancel_type = cancel_type;
        o.updated = now;
        o.resting = false;
        let (uid, b, ob_id, locked, lock_base) = (o.uid, o.book, o.ob_id, o.locked, o.lock_base);
        let side = o.side;
        o.locked = 0;
        self.owners.remove(&ob_id);
        if locked != 0 {
            let coin = if lock_base {
                self.books[b].base.clone()
            } else {
                self.books[b].quote.clone()
            };
            self.acct(uid).coin(&coin).locked -= locked;
            self.pend_wallet.push(uid);
        }
        if was_open {
            let acc = self.acct(uid);
            if let Some(n) = acc.open_by_book.get_mut(b) {
                *n = n.saturating_sub(1);
            }
            if let Some(a) = acc.audit.get_mut(b) {
                a.on_close(side_index(side));
            }
        }
        self.pend_orders.push(key);
        if self.books[b].cat == Category::Linear {
            self.pend_pos.push((uid, b));
        }
        self.im_sync(key);
        self.closed_fifo.push_back(key);
        while self.closed_fifo.len() > MAX_CLOSED_KEPT {
            if let Some(old) = self.closed_fifo.pop_front() {
                if let Some(o) = self.orders.remove(&old) {
                    self.by_order_id.remove(&o.order_id);
                    self.by_link.remove(&(o.uid, o.link));
                }
            }
        }
    }

    fn client_fill(&mut self, key: u64, price: i64, qty: i64, maker: bool) {
        let now = self.now;
        let fee_e6 = if maker {
            self.fees.maker_e6
        } else {
            self.fees.taker_e6
        };
        let Some(o) = self.orders.get_mut(&key) else {
            return;
        };
        let b = o.book;
        let book = &self.books[b];
        let value = book.tl_money(i128::from(price) * i128::from(qty));
        o.cum += qty;
        o.cum_value_tl += i128::from(price) * i128::from(qty);
        o.updated = now;
        let uid = o.uid;
        let side = o.side;
        let order_price = o.price;
        let lock_base = o.lock_base;
        let mut fee;
        let mut unlock = 0i128;
        let mut closed = 0;
        let base = book.base.clone();
        let quote = book.quote.clone();
        let cat = book.cat;
        let lots_money = book.lots_money(qty);
        match cat {
            Category::Spot => {
                if side == Side::Buy {
                    fee = book.lots_money(qty) * i128::from(fee_e6) / 1_000_000;
                    if o.locked > 0 {
                        unlock = book
                            .tl_money(i128::from(order_price) * i128::from(qty))
                            .min(o.locked);
                    }
                } else {
                    fee = value * i128::from(fee_e6) / 1_000_000;
                    if o.locked > 0 {
                        unlock = book.lots_money(qty).min(o.locked);
                    }
                }
                o.locked -= unlock;
                o.fee += fee;
                let acc = self.acct(uid);
                if side == Side::Buy {
                    acc.coin(&quote).locked -= unlock;
                    acc.coin(&quote).wallet -= value;
                    acc.coin(&base).wallet += lots_money - fee;
                } else {
                    acc.coin(&base).locked -= unlock;
                    acc.coin(&base).wallet -= lots_money;
                    acc.coin(&quote).wallet += value - fee;
                }
                let _ = lock_base;
            }
            Category::Linear => {
                fee = value * i128::from(fee_e6) / 1_000_000;
                o.fee += fee;
                let seq = self.books[b].seq;
                let tl_money = self.books[b].money_per_tl;
                let acc = self.acct(uid);
                let pos = acc.positions.entry(b).or_insert_with(|| Position {
                    seq: -1,
                    created: now,
                    ..Position::default()
                });
                let was_flat = pos.size == 0;
                let pf = pos.apply(side.sign() * qty, price);
                closed = pf.closed;
                let pnl = pf.pnl_tl * tl_money - fee;
                if was_flat {
                    pos.cur_realised = 0;
                }
                pos.cur_realised += pnl;
                pos.cum_realised += pnl;
                pos.updated = now;
                pos.seq = seq as i64;
                let q = acc.coin(&quote);
                q.wallet += pnl;
                q.cum_realised += pnl;
                self.pend_pos.push((uid, b));
            }
        }
        if fee < 0 {
            fee = 0;
        }
        self.pend_wallet.push(uid);
        let exec_id = self.next_exec;
        self.next_exec += 1;
        if let Some(a) = self.acct(uid).audit.get_mut(b) {
            a.on_exec(exec_id, side.sign() * qty);
        }
        let (leaves, filled) = {
            let o = &self.orders[&key];
            (o.qty - o.cum, o.cum >= o.qty)
        };
        self.pend_execs.push(ExecRec {
            key,
            exec_id,
            price,
            qty,
            maker,
            fee,
            fee_rate_e6: fee_e6,
            time: now,
            seq: self.books[b].seq,
            leaves,
            closed,
        });
        if filled {
            self.finish(key, Status::Filled, "UNKNOWN");
        } else {
            if let Some(o) = self.orders.get_mut(&key) {
                o.status = Status::PartiallyFilled;
            }
            self.im_sync(key);
            self.pend_orders.push(key);
        }
    }

    /// Lots a quote amount buys walking the asks (for spot market buys in quote units).
    fn lots_for_quote(&self, b: usize, amt: i128) -> i64 {
        let book = &self.books[b];
        let mut left = amt;
        let mut lots = 0i64;
        for (&p, &q) in book.l2[1].iter() {
            let per = book.tl_money(i128::from(p));
            if per <= 0 {
                break;
            }
            let can = (left / per).min(i128::from(q)) as i64;
            lots += can;
            left -= per * i128::from(can);
            if can < q {
                break;
            }
        }
        lots
    }

    /// The worst price a market order of `qty` would reach (for balance checks).
    fn worst_fill_price(&self, b: usize, side: Side, qty: i64) -> i64 {
        let book = &self.books[b];
        let mut left = qty;
        let mut last = 0;
        let it: Box<dyn Iterator<Item = (&i64, &i64)>> = match side {
            Side::Buy => Box::new(book.l2[1].iter()),
            Side::Sell => Box::new(book.l2[0].iter().rev()),
        };
        for (&p, &q) in it {
            last = p;
            left -= q;
            if left <= 0 {
                break;
            }
        }
        last
    }

    fn make_order_id(&self, cat: Category, key: u64) -> OrderId {
        let mut buf = Vec::with_capacity(40);
        match cat {
            Category::Linear => {
                let hi = market::mix(self.id_salt ^ key.wrapping_mul(0x2545_f491_4f6c_dd1d));
                wire::put_quuid(&mut buf, hi, key);
                let s = buf.get(1..buf.len().saturating_sub(1)).unwrap_or(&[]);
                OrderId::new(s).unwrap_or_default()
            }
            Category::Spot => {
                // A 19-digit decimal like Bybit's; the instance shifts the
                // whole sequence (by 0 for the default instance).
                let shift = market::mix(self.instance.nonce) % 100_000_000_000_000_000;
                wire::put_u64(
                    &mut buf,
                    1_900_000_000_000_000_000 + shift + key * 7919 + (self.seed % 7),
                );
                OrderId::new(&buf).unwrap_or_default()
            }
        }
    }

    /// Finds an open or recent order of `uid` on `book` by orderId (wins) or orderLinkId.
    fn lookup(&self, uid: u64, b: usize, p: &Value) -> Option<u64> {
        let k = if let Some(id) = pstr(p, "orderId") {
            *self.by_order_id.get(&OrderId::from_str(id).ok()?)?
        } else {
            let link = OrderLinkId::from_str(pstr(p, "orderLinkId")?).ok()?;
            *self.by_link.get(&(uid, link))?
        };
        let o = self.orders.get(&k)?;
        (o.uid == uid && o.book == b).then_some(k)
    }

    fn amend_one(
        &mut self,
        uid: u64,
        cat: Category,
        p: &Value,
    ) -> Result<(OrderId, OrderLinkId), Rej> {
        let c = codes(cat);
        let sym = pstr(p, "symbol").ok_or(rej(c.bad_param, "params error: symbol is required"))?;
        let b = self
            .find_book(cat, sym)
            .ok_or(rej(c.bad_symbol, "params error: symbol invalid"))?;
        if pstr(p, "orderId").is_none() && pstr(p, "orderLinkId").is_none() {
            return Err(rej(
                c.bad_param,
                "params error: orderId or orderLinkId is required",
            ));
        }
        let key = self
            .lookup(uid, b, p)
            .filter(|k| self.orders[k].status.open())
            .ok_or(rej(c.not_found, "order not exists or too late to replace"))?;
        let book = &self.books[b];
        let new_price = match pstr(p, "price") {
            None => None,
            Some(s) => Some(match book.tick.count(s.as_bytes()) {
                Ok(v) if v >= 1 => v,
                Ok(_) => {
                    return Err(rej(
                        c.price_precision,
                        "Order price is out of permissible range.",
                    ))
                }
                Err(UnitError::NotOnGrid) => {
                    return Err(rej(c.price_precision, "Order price decimal too long."))
                }
                Err(_) => return Err(rej(c.bad_param, "params error: price invalid")),
            }),
        };
        let new_qty = match pstr(p, "qty") {
            None => None,
            Some(s) => Some(match book.lot.count(s.as_bytes()) {
                Ok(v) => v,
                Err(UnitError::NotOnGrid) => {
                    return Err(rej(
                        c.qty_precision,
                        "Order quantity has too many decimals.",
                    ))
                }
                Err(_) => return Err(rej(c.bad_param, "params error: qty invalid")),
            }),
        };
        let o = self.orders[&key].clone();
        if o.market {
            return Err(rej(c.not_found, "order not exists or too late to replace"));
        }
        let price = new_price.unwrap_or(o.price);
        let qty = new_qty.unwrap_or(o.qty);
        if price == o.price && qty == o.qty {
            return Err(rej(c.bad_param, "params error: the order was not modified"));
        }
        if qty <= o.cum {
            return Err(rej(
                c.amend_qty,
                "The amended quantity cannot be less than the filled quantity.",
            ));
        }
        if qty < book.min_qty.max(1) {
            return Err(rej(c.qty_min, "Order quantity below the lower limit."));
        }
        if qty > book.max_qty {
            return Err(rej(c.qty_max, "Order quantity exceeded the upper limit."));
        }
        let leaves = qty - o.cum;
        // Spot re-lock.
        let new_lock = if cat == Category::Spot {
            let need = if o.side == Side::Buy {
                book.tl_money(i128::from(price) * i128::from(leaves))
            } else {
                book.lots_money(leaves)
            };
            let coin = if o.lock_base { &book.base } else { &book.quote };
            let avail = self.accounts[self.acct_by_uid[&uid]].available(coin) + o.locked;
            if avail < need {
                return Err(rej(c.balance, "Insufficient balance."));
            }
            Some((coin.clone(), need))
        } else {
            None
        };
        if cat == Category::Linear {
            // Margin for the extra notional only.
            let extra = book.tl_money(i128::from(price) * i128::from(leaves)) - o.im_value;
            let ai = self.acct_by_uid[&uid];
            let avail = self.accounts[ai].available(&book.quote) - self.linear_im(uid);
            if extra > 0 && avail < extra / self.leverage {
                return Err(rej(c.balance, "Insufficient available balance."));
            }
        }
        let now = self.now;
        if let Some((coin, need)) = new_lock {
            let delta = need - o.locked;
            self.acct(uid).coin(&coin).locked += delta;
            if let Some(om) = self.orders.get_mut(&key) {
                om.locked = need;
            }
            self.pend_wallet.push(uid);
        }
        self.books[b].seq += 1;
        let old_leaves = o.qty - o.cum;
        if let Some(om) = self.orders.get_mut(&key) {
            om.qty = qty;
            om.price = price;
            om.updated = now;
        }
        self.im_sync(key);
        if price == o.price {
            // Quantity only: down keeps queue priority, up goes to the back.
            let _ = self.books[b].ob.update_order(OrderUpdate::UpdateQuantity {
                order_id: Id::Sequential(o.ob_id),
                new_quantity: Quantity::new(leaves as u64),
            });
            self.books[b].l2_add(o.side, price, leaves - old_leaves);
            self.pend_orders.push(key);
        } else {
            // Price change: cancel and re-add at the back (may cross).
            let _ = self.books[b].ob.cancel_order(Id::Sequential(o.ob_id));
            self.owners.remove(&o.ob_id);
            self.books[b].l2_add(o.side, o.price, -old_leaves);
            if let Some(om) = self.orders.get_mut(&key) {
                om.resting = false;
            }
            let crosses = match o.side {
                Side::Buy => self.books[b].best(Side::Sell).is_some_and(|a| price >= a),
                Side::Sell => self.books[b].best(Side::Buy).is_some_and(|bb| price <= bb),
            };
            if o.tif == Tif::PostOnly && crosses {
                if let Some(om) = self.orders.get_mut(&key) {
                    om.reject = "EC_PostOnlyWillTakeLiquidity";
                }
                self.finish(key, Status::Cancelled, "UNKNOWN");
            } else {
                let ob_id = self.new_ob_id();
                if let Some(om) = self.orders.get_mut(&key) {
                    om.ob_id = ob_id;
                }
                self.owners.insert(ob_id, Owner::Client(key));
                self.ob_add(b, ob_id, o.side, price, leaves, TimeInForce::Gtc);
                self.after_taking(key);
                self.pend_orders.push(key);
            }
        }
        if cat == Category::Linear {
            self.pend_pos.push((uid, b));
        }
        Ok((o.order_id, o.link))
    }

    fn cancel_key(&mut self, key: u64) {
        let Some(o) = self.orders.get(&key) else {
            return;
        };
        let (b, ob_id, side, price, leaves, resting, cum) = (
            o.book,
            o.ob_id,
            o.side,
            o.price,
            o.qty - o.cum,
            o.resting,
            o.cum,
        );
        self.books[b].seq += 1;
        let _ = self.books[b].ob.cancel_order(Id::Sequential(ob_id));
        if resting {
            self.books[b].l2_add(side, price, -leaves);
        }
        let st = if self.books[b].cat == Category::Spot && cum > 0 {
            Status::PartiallyFilledCanceled
        } else {
            Status::Cancelled
        };
        self.finish(key, st, "CancelByUser");
    }

    fn cancel_one(
        &mut self,
        uid: u64,
        cat: Category,
        p: &Value,
    ) -> Result<(OrderId, OrderLinkId), Rej> {
        let c = codes(cat);
        let sym = pstr(p, "symbol").ok_or(rej(c.bad_param, "params error: symbol is required"))?;
        let b = self
            .find_book(cat, sym)
            .ok_or(rej(c.bad_symbol, "params error: symbol invalid"))?;
        if pstr(p, "orderId").is_none() && pstr(p, "orderLinkId").is_none() {
            return Err(rej(
                c.bad_param,
                "params error: orderId or orderLinkId is required",
            ));
        }
        let key = self
            .lookup(uid, b, p)
            .filter(|k| self.orders[k].status.open())
            .ok_or(rej(c.not_found, "order not exists or too late to cancel"))?;
        let (id, link) = (self.orders[&key].order_id, self.orders[&key].link);
        self.cancel_key(key);
        Ok((id, link))
    }

    fn cancel_all(&mut self, uid: u64, cat: Category, p: &Value) -> Reply {
        let c = codes(cat);
        let sym = pstr(p, "symbol");
        let base = pstr(p, "baseCoin");
        let settle = pstr(p, "settleCoin");
        if cat == Category::Linear && sym.is_none() && base.is_none() && settle.is_none() {
            return Reply::err(rej(
                c.bad_param,
                "params error: symbol, baseCoin or settleCoin is required",
            ));
        }
        let sym_book = match sym {
            Some(s) => match self.find_book(cat, s) {
                Some(b) => Some(b),
                None => return Reply::err(rej(c.bad_symbol, "params error: symbol invalid")),
            },
            None => None,
        };
        let keys: Vec<u64> = self
            .open_keys
            .iter()
            .filter_map(|k| self.orders.get(k))
            .filter(|o| {
                let bk = &self.books[o.book];
                o.uid == uid
                    && o.status.open()
                    && bk.cat == cat
                    && sym_book.is_none_or(|b| b == o.book)
                    && base.is_none_or(|c| c == bk.base)
                    && settle.is_none_or(|c| c == bk.quote)
            })
            .map(|o| o.key)
            .collect();
        let mut list = Vec::with_capacity(keys.len());
        for k in keys {
            let o = &self.orders[&k];
            list.push(json!({"orderId": o.order_id.as_str(), "orderLinkId": o.link.as_str()}));
            self.cancel_key(k);
        }
        Reply::ok(json!({"list": list, "success": "1"}))
    }

    fn order_value(&self, o: &Order) -> Value {
        let mut buf = Vec::with_capacity(1024);
        self.put_order(&mut buf, o);
        serde_json::from_slice(&buf).unwrap_or(Value::Null)
    }

    fn realtime(&mut self, uid: u64, cat: Category, p: &Value) -> Reply {
        let open_only = pstr(p, "openOnly").unwrap_or("0") == "0"
            && !matches!(p.get("openOnly"), Some(Value::Number(n)) if n.as_u64() == Some(1));
        self.order_page(uid, cat, p, open_only, |_| true)
    }

    /// `/v5/order/history`: the caller's orders in `cat` of every status
    /// (open, filled, cancelled, PostOnly killed for crossing) created in
    /// the time window (see [`Exchange::time_window`]), newest first, with
    /// the `/v5/order/realtime` rows, filters and pages, plus `orderStatus`,
    /// `baseCoin` and `orderFilter`. Reaches back as far as the simulator
    /// keeps closed orders (the newest [`MAX_CLOSED_KEPT`]).
    fn order_history(&mut self, uid: u64, cat: Category, p: &Value) -> Reply {
        let (from, to) = match self.time_window(p) {
            Ok(w) => w,
            Err(r) => return r,
        };
        let status = pstr(p, "orderStatus");
        let base = pstr(p, "baseCoin");
        // Only plain orders exist here: asking for conditional or TP/SL
        // orders finds none.
        let plain = matches!(pstr(p, "orderFilter"), None | Some("Order"));
        self.order_page(uid, cat, p, false, |o| {
            plain
                && (from..=to).contains(&o.created)
                && status.is_none_or(|s| s == o.status.as_str())
                && base.is_none_or(|c| c == self.books[o.book].base)
        })
    }

    /// One page of the caller's orders in `cat` that pass `keep` (and
    /// `open_only`), filtered by `symbol` and `orderId` (wins) or
    /// `orderLinkId`, newest created first, `limit` 1..=50 (default 20).
    fn order_page(
        &self,
        uid: u64,
        cat: Category,
        p: &Value,
        open_only: bool,
        keep: impl Fn(&Order) -> bool,
    ) -> Reply {
        let c = codes(cat);
        let sym_book = match pstr(p, "symbol") {
            Some(s) => match self.find_book(cat, s) {
                Some(b) => Some(b),
                None => return Reply::err(rej(c.bad_symbol, "params error: symbol invalid")),
            },
            None => None,
        };
        let limit = pstr(p, "limit")
            .and_then(|l| l.parse::<usize>().ok())
            .or_else(|| p.get("limit").and_then(|l| l.as_u64()).map(|l| l as usize))
            .unwrap_or(20)
            .clamp(1, 50);
        let want_id = pstr(p, "orderId");
        let want_link = pstr(p, "orderLinkId");
        let all: Box<dyn Iterator<Item = &Order>> = if open_only {
            Box::new(self.open_keys.iter().filter_map(|k| self.orders.get(k)))
        } else {
            Box::new(self.orders.values())
        };
        let mut v: Vec<&Order> = all
            .filter(|o| {
                o.uid == uid
                    && self.books[o.book].cat == cat
                    && sym_book.is_none_or(|b| b == o.book)
                    && (o.status.open() || !open_only)
                    && want_id.is_none_or(|i| i == o.order_id.as_str())
                    && (want_id.is_some() || want_link.is_none_or(|l| l == o.link.as_str()))
                    && keep(o)
            })
            .collect();
        v.sort_by_key(|o| std::cmp::Reverse((o.created, o.key)));
        // Pages: the cursor names the last row served (`<created>%3A<key>`,
        // pre-encoded like Bybit's); the next page starts after it, so orders
        // created or closed between pages neither repeat nor shift rows.
        if let Some(c) = pstr(p, "cursor").filter(|c| !c.is_empty()) {
            let c = c.replace("%3A", ":");
            let parsed = c
                .split_once(':')
                .and_then(|(t, k)| Some((t.parse::<u64>().ok()?, k.parse::<u64>().ok()?)));
            let Some(last) = parsed else {
                return Reply::err(rej(10001, "params error: cursor invalid"));
            };
            v.retain(|o| (o.created, o.key) < last);
        }
        let more = v.len() > limit;
        let next = match v.get(limit.saturating_sub(1)) {
            Some(o) if more => format!("{}%3A{}", o.created, o.key),
            _ => String::new(),
        };
        let list: Vec<Value> = v.iter().take(limit).map(|o| self.order_value(o)).collect();
        Reply::ok(json!({"category": cat.as_str(), "nextPageCursor": next, "list": list}))
    }

    /// `/v5/execution/list`: the caller's executions in `cat` (optionally one
    /// `symbol`) with `startTime ..= endTime` (ms; only `startTime` → the
    /// following 7 days, only `endTime` → the preceding 7, neither → the last
    /// 7; a longer or inverted range is refused), newest first, `limit`
    /// 1..=100 (default 50). The cursor names the last row served
    /// (`<execTime>%3A<n>`, pre-encoded like Bybit's); `""` means no more.
    fn execution_list(&mut self, uid: u64, cat: Category, p: &Value) -> Reply {
        let bad = |m: &'static str| Reply::err(rej(10001, m));
        let book = match pstr(p, "symbol") {
            Some(s) => match self.find_book(cat, s) {
                Some(b) => Some(b),
                None => {
                    return Reply::err(rej(codes(cat).bad_symbol, "params error: symbol invalid"))
                }
            },
            None => None,
        };
        let num = |k: &str| -> Result<Option<u64>, ()> {
            match pstr(p, k) {
                None => Ok(None),
                Some(v) => v.parse::<u64>().map(Some).map_err(|_| ()),
            }
        };
        let limit = match num("limit") {
            Ok(None) => 50,
            Ok(Some(l)) if (1..=100).contains(&l) => l as usize,
            _ => return bad("params error: limit must be 1..=100"),
        };
        let (from, to) = match self.time_window(p) {
            Ok(w) => w,
            Err(r) => return r,
        };
        let after = match pstr(p, "cursor").filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => {
                let c = c.replace("%3A", ":");
                let parsed = c
                    .split_once(':')
                    .and_then(|(t, n)| Some((t.parse::<u64>().ok()?, n.parse::<u64>().ok()?)));
                match parsed {
                    Some(k) => Some(k),
                    None => return bad("params error: cursor invalid"),
                }
            }
        };
        let mut rows: Vec<&HistExec> = self
            .exec_hist
            .get(&uid)
            .into_iter()
            .flatten()
            .filter(|h| {
                self.books[h.book].cat == cat
                    && book.is_none_or(|b| b == h.book)
                    && (from..=to).contains(&h.rec.time)
                    && after.is_none_or(|a| h.key() < a)
            })
            .collect();
        rows.sort_unstable_by_key(|h| std::cmp::Reverse(h.key()));
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = match rows.last() {
            Some(h) if more => format!("{}%3A{}", h.rec.time, h.rec.exec_id),
            _ => String::new(),
        };
        let mut buf = Vec::with_capacity(1024);
        let list: Vec<Value> = rows
            .iter()
            .map(|h| {
                buf.clear();
                self.put_exec(&mut buf, h);
                let mut v: Value = serde_json::from_slice(&buf).unwrap_or(Value::Null);
                // REST rows carry no category (the result does).
                if let Some(m) = v.as_object_mut() {
                    m.remove("category");
                }
                v
            })
            .collect();
        Reply::ok(json!({"category": cat.as_str(), "nextPageCursor": next, "list": list}))
    }

    /// The `startTime ..= endTime` (ms) of a history query: only
    /// `startTime` → the following 7 days, only `endTime` → the preceding 7,
    /// neither → the last 7; a longer or inverted range is refused.
    fn time_window(&self, p: &Value) -> Result<(u64, u64), Reply> {
        const SPAN: u64 = 7 * 24 * 60 * 60 * 1000;
        let bad = |m: &'static str| Reply::err(rej(10001, m));
        let num = |k: &str| -> Result<Option<u64>, ()> {
            match pstr(p, k) {
                None => Ok(None),
                Some(v) => v.parse::<u64>().map(Some).map_err(|_| ()),
            }
        };
        let (Ok(start), Ok(end)) = (num("startTime"), num("endTime")) else {
            return Err(bad("params error: startTime/endTime invalid"));
        };
        Ok(match (start, end) {
            (Some(s), Some(e)) => {
                if e < s || e - s > SPAN {
                    return Err(bad("params error: the time range must be 0..=7 days"));
                }
                (s, e)
            }
            (Some(s), None) => (s, s.saturating_add(SPAN)),
            (None, Some(e)) => (e.saturating_sub(SPAN), e),
            (None, None) => (self.now.saturating_sub(SPAN), self.now),
        })
    }

    fn position_list(&mut self, uid: u64, cat: Category, p: &Value) -> Reply {
        let c = codes(cat);
        if cat != Category::Linear {
            return Reply::err(rej(10001, "params error: category only support linear"));
        }
        let sym = pstr(p, "symbol");
        let settle = pstr(p, "settleCoin");
        if sym.is_none() && settle.is_none() {
            return Reply::err(rej(
                c.bad_param,
                "params error: symbol or settleCoin is required",
            ));
        }
        let books: Vec<usize> = match sym {
            Some(s) => match self.find_book(cat, s) {
                Some(b) => vec![b],
                None => return Reply::err(rej(c.bad_symbol, "params error: symbol invalid")),
            },
            None => (0..self.books.len())
                .filter(|&b| {
                    self.books[b].cat == Category::Linear
                        && settle.is_none_or(|s| s == self.books[b].quote)
                })
                .collect(),
        };
        let mut list = Vec::new();
        for b in books {
            let ai = self.acct_by_uid[&uid];
            let pos = self.accounts[ai]
                .positions
                .get(&b)
                .cloned()
                .unwrap_or(Position {
                    seq: -1,
                    ..Position::default()
                });
            if sym.is_none() && pos.size == 0 {
                continue;
            }
            let mut buf = Vec::with_capacity(1024);
            self.put_position(&mut buf, uid, b, &pos, true);
            list.push(serde_json::from_slice(&buf).unwrap_or(Value::Null));
        }
        Reply::ok(json!({"category": "linear", "nextPageCursor": "", "list": list}))
    }

    fn wallet_balance(&mut self, uid: u64, p: &Value) -> Reply {
        match pstr(p, "accountType") {
            None | Some("UNIFIED") => {}
            Some(_) => {
                return Reply::err(rej(10001, "params error: accountType only support UNIFIED"))
            }
        }
        let coins: Option<Vec<&str>> = pstr(p, "coin").map(|c| c.split(',').collect());
        let mut buf = Vec::with_capacity(2048);
        self.put_wallet_elem(&mut buf, uid, coins.as_deref());
        let v: Value = serde_json::from_slice(&buf).unwrap_or(Value::Null);
        Reply::ok(json!({"list": [v]}))
    }

    fn instruments(&self, p: &Value) -> Reply {
        if let Some(other) = unlisted_category(p) {
            return Reply::ok(json!({"category": other, "list": [], "nextPageCursor": ""}));
        }
        let Some(cat) = pstr(p, "category").and_then(|c| Category::parse(c.as_bytes())) else {
            return Reply::err(rej(10001, "params error: category invalid"));
        };
        let sym = pstr(p, "symbol");
        let mut list = Vec::new();
        for (i, b) in self.books.iter().enumerate() {
            if b.cat != cat || sym.is_some_and(|s| s != b.symbol.as_str()) {
                continue;
            }
            let tick = b.tick.display(1).to_string();
            let step = b.lot.display(1).to_string();
            let minq = b.lot.display(b.min_qty).to_string();
            let maxq = b.lot.display(b.max_qty).to_string();
            let mut mn = Vec::new();
            wire::put_scaled_i128(&mut mn, b.min_notional, wire::MONEY_SCALE);
            let min_notional = String::from_utf8(mn).unwrap_or_default();
            list.push(match cat {
                Category::Spot => json!({
                    "symbolId": i + 1, "symbol": b.symbol.as_str(), "baseCoin": b.base, "quoteCoin": b.quote,
                    "innovation": "0", "status": "Trading", "marginTrading": "utaOnly", "stTag": "0",
                    "lotSizeFilter": {"basePrecision": step, "quotePrecision": "0.0000001",
                        "minOrderQty": minq, "maxOrderQty": maxq, "minOrderAmt": min_notional,
                        "maxOrderAmt": "8000000", "maxLimitOrderQty": maxq, "maxMarketOrderQty": maxq,
                        "postOnlyMaxLimitOrderSize": maxq},
                    "priceFilter": {"tickSize": tick},
                    "riskParameters": {"priceLimitRatioX": "0.005", "priceLimitRatioY": "0.01"},
                    "symbolType": ""
                }),
                Category::Linear => json!({
                    "symbol": b.symbol.as_str(), "symbolId": i + 1, "contractType": "LinearPerpetual",
                    "status": "Trading", "baseCoin": b.base, "quoteCoin": b.quote,
                    "launchTime": "1585526400000", "deliveryTime": "0", "deliveryFeeRate": "",
                    "priceScale": b.tick.scale().to_string(),
                    "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
                    "priceFilter": {"minPrice": tick, "maxPrice": b.tick.display(1_999_999_999).to_string(), "tickSize": tick},
                    "lotSizeFilter": {"maxOrderQty": maxq, "minOrderQty": minq, "qtyStep": step,
                        "postOnlyMaxOrderQty": maxq, "maxMktOrderQty": maxq, "minNotionalValue": min_notional},
                    "unifiedMarginTrade": true, "fundingInterval": 480, "settleCoin": b.quote,
                    "copyTrading": "both", "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375",
                    "isPreListing": false, "preListingInfo": null,
                    "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
                    "symbolType": ""
                }),
            });
        }
        let mut r = json!({"category": cat.as_str(), "list": list});
        if cat == Category::Linear {
            r["nextPageCursor"] = json!("");
        }
        Reply::ok(r)
    }

    fn rest_orderbook(&self, p: &Value) -> Reply {
        let Some(cat) = pstr(p, "category").and_then(|c| Category::parse(c.as_bytes())) else {
            return Reply::err(rej(10001, "params error: category invalid"));
        };
        let c = codes(cat);
        let Some(b) = pstr(p, "symbol").and_then(|s| self.find_book(cat, s)) else {
            return Reply::err(rej(c.bad_symbol, "params error: symbol invalid"));
        };
        let default = if cat == Category::Spot { 1 } else { 25 };
        let limit = pstr(p, "limit")
            .and_then(|l| l.parse::<usize>().ok())
            .or_else(|| p.get("limit").and_then(|l| l.as_u64()).map(|l| l as usize))
            .unwrap_or(default);
        if !(1..=1000).contains(&limit) {
            return Reply::err(rej(c.bad_param, "params error: limit out of range"));
        }
        let book = &self.books[b];
        let lv = |side: Side| -> Vec<Value> {
            let mut v = Vec::new();
            book.levels(side, limit, &mut v);
            v.iter()
                .map(|&(p, q)| {
                    json!([
                        book.tick.display(p).to_string(),
                        book.lot.display(q).to_string()
                    ])
                })
                .collect()
        };
        Reply::ok(json!({
            "s": book.symbol.as_str(), "b": lv(Side::Buy), "a": lv(Side::Sell),
            "ts": self.now, "u": book.seq, "seq": book.seq, "cts": self.now
        }))
    }

    /// The category of a public market query; no or an unknown category is
    /// refused.
    fn market_category(p: &Value) -> Result<MarketCategory, Reply> {
        if let Some(other) = unlisted_category(p) {
            return Ok(MarketCategory::Unlisted(other));
        }
        pstr(p, "category")
            .and_then(|c| Category::parse(c.as_bytes()))
            .map(MarketCategory::Listed)
            .ok_or_else(|| Reply::err(rej(10001, "params error: category invalid")))
    }

    /// `/v5/market/tickers`: one row per listed symbol of `category` (or the
    /// one `symbol`), priced off the simulator's own book and trades: best
    /// levels, last trade, 24 h figures from the trades it has matched (per
    /// wall-clock minute, so the window moves in whole minutes), and for
    /// linear the mid as mark and index price (the simulator has no external
    /// index), the clients' open interest and a zero funding rate (it settles
    /// no funding).
    fn tickers(&self, p: &Value) -> Reply {
        let cat = match Self::market_category(p) {
            Ok(MarketCategory::Listed(c)) => c,
            Ok(MarketCategory::Unlisted(other)) => {
                return Reply::ok(json!({"category": other, "list": []}))
            }
            Err(r) => return r,
        };
        let sym = pstr(p, "symbol");
        if sym.is_some_and(|s| self.find_book(cat, s).is_none()) {
            return Reply::err(rej(10001, "params error: symbol invalid"));
        }
        let list: Vec<Value> = (0..self.books.len())
            .filter(|&b| {
                self.books[b].cat == cat && sym.is_none_or(|s| s == self.books[b].symbol.as_str())
            })
            .map(|b| self.ticker_row(b))
            .collect();
        Reply::ok(json!({"category": cat.as_str(), "list": list}))
    }

    fn ticker_row(&self, b: usize) -> Value {
        const FUNDING_MS: u64 = 8 * 60 * 60 * 1000;
        let book = &self.books[b];
        let now = self.now;
        let px = |v: i64| book.tick.display(v).to_string();
        let qty = |v: i64| book.lot.display(v).to_string();
        // An empty side has no best level: "" like any absent price.
        let top = |side: Side| match book.level_at(side, 0) {
            Some((p, q)) => (px(p), qty(q)),
            None => (String::new(), String::new()),
        };
        let (bid, bid_size) = top(Side::Buy);
        let (ask, ask_size) = top(Side::Sell);
        let last = book.last_or_start();
        let prev24 = book.price_ago(now, DAY_MINUTES);
        let day = book.day_stats(now);
        let mark = book.mark_price();
        match book.cat {
            Category::Spot => {
                let usd_quoted = book.quote == "USDT" || book.quote == "USDC";
                json!({
                    "symbol": book.symbol.as_str(),
                    "bid1Price": bid, "bid1Size": bid_size,
                    "ask1Price": ask, "ask1Size": ask_size,
                    "lastPrice": px(last),
                    "prevPrice24h": px(prev24),
                    "price24hPcnt": change_ratio(last, prev24, 4),
                    "highPrice24h": px(day.high),
                    "lowPrice24h": px(day.low),
                    "turnover24h": money_str(book.tl_money(day.turnover_tl)),
                    "volume24h": qty(day.volume),
                    // Stablecoin-quoted: the mid is the USD price.
                    "usdIndexPrice": if usd_quoted { px(mark) } else { String::new() },
                })
            }
            Category::Linear => {
                // Open interest counts one side. The synthetic flow keeps no
                // positions: taken as one account, it holds whatever the
                // clients' longs and shorts leave unmatched, so the market's
                // longs are the larger of the clients' longs and shorts.
                let (longs, shorts) = self
                    .accounts
                    .iter()
                    .filter_map(|a| a.positions.get(&b))
                    .fold((0i64, 0i64), |(l, s), pos| {
                        (l + pos.size.max(0), s + (-pos.size).max(0))
                    });
                let oi = longs.max(shorts);
                json!({
                    "symbol": book.symbol.as_str(),
                    "lastPrice": px(last),
                    "indexPrice": px(mark),
                    "markPrice": px(mark),
                    "prevPrice24h": px(prev24),
                    "price24hPcnt": change_ratio(last, prev24, 6),
                    "highPrice24h": px(day.high),
                    "lowPrice24h": px(day.low),
                    "prevPrice1h": px(book.price_ago(now, 60)),
                    "openInterest": qty(oi),
                    "openInterestValue": money_str(book.tl_money(i128::from(mark) * i128::from(oi))),
                    "turnover24h": money_str(book.tl_money(day.turnover_tl)),
                    "volume24h": qty(day.volume),
                    "fundingRate": "0",
                    "nextFundingTime": ((now / FUNDING_MS + 1) * FUNDING_MS).to_string(),
                    "predictedDeliveryPrice": "",
                    "basisRate": "",
                    "deliveryFeeRate": "",
                    // A perpetual: no delivery.
                    "deliveryTime": "0",
                    "ask1Size": ask_size, "bid1Price": bid,
                    "ask1Price": ask, "bid1Size": bid_size,
                    "basis": "",
                    "preOpenPrice": "",
                    "preQty": "",
                    "curPreListingPhase": "",
                    // As instruments-info says: 480 min, cap ±0.00375.
                    "fundingIntervalHour": "8",
                    "basisRateYear": "",
                    "fundingCap": "0.00375",
                })
            }
        }
    }

    /// `/v5/market/recent-trade`: the newest trades of `symbol`, newest
    /// first; `limit` spot 1..=60 (default 60), linear 1..=1000 (default
    /// 500). `execId` is the trade's id on `publicTrade` (`i`).
    fn recent_trades(&self, p: &Value) -> Reply {
        let cat = match Self::market_category(p) {
            Ok(MarketCategory::Listed(c)) => c,
            Ok(MarketCategory::Unlisted(other)) => {
                return Reply::ok(json!({"category": other, "list": []}))
            }
            Err(r) => return r,
        };
        // A market-data query, not an order: 10001 in every category (the
        // 170xxx codes are spot trading's).
        let bad = |m: &'static str| Reply::err(rej(10001, m));
        let Some(sym) = pstr(p, "symbol") else {
            return bad("params error: symbol is required");
        };
        let Some(b) = self.find_book(cat, sym) else {
            return bad("params error: symbol invalid");
        };
        let (default, max) = match cat {
            Category::Spot => (60, 60),
            Category::Linear => (500, RECENT_TRADES),
        };
        let limit = match pstr(p, "limit").map(str::parse::<usize>) {
            None => default,
            Some(Ok(l)) if (1..=max).contains(&l) => l,
            Some(_) => return bad("params error: limit out of range"),
        };
        let book = &self.books[b];
        let list: Vec<Value> = book
            .recent
            .iter()
            .rev()
            .take(limit)
            .map(|t| {
                json!({
                    "execId": trade_uuid(t.trade_id),
                    "symbol": book.symbol.as_str(),
                    "price": book.tick.display(t.price).to_string(),
                    "size": book.lot.display(t.qty).to_string(),
                    "side": t.taker_side.as_str(),
                    "time": t.time_ms.to_string(),
                    "isBlockTrade": false,
                    "isRPITrade": false,
                })
            })
            .collect();
        Reply::ok(json!({"category": cat.as_str(), "list": list}))
    }

    /// `/v5/asset/coin/query-info`: every coin the simulator knows (its
    /// symbols' coins and the accounts' balances), or the one `coin`.
    fn coin_info(&self, p: &Value) -> Reply {
        let want = pstr(p, "coin");
        let mut coins: BTreeSet<&str> = BTreeSet::new();
        for b in &self.books {
            coins.insert(b.base.as_str());
            coins.insert(b.quote.as_str());
        }
        for a in &self.accounts {
            coins.extend(a.coins.keys().map(String::as_str));
        }
        let rows: Vec<Value> = coins
            .into_iter()
            .filter(|c| want.is_none_or(|w| w == *c))
            .map(account::coin_info)
            .collect();
        Reply::ok(json!({"rows": rows}))
    }

    /// The calling key's id: new for every start of the exchange (an
    /// engine takes `(userID, id)` as "the same account and key", and a
    /// restarted simulator is a new account state), the same within one.
    fn key_id(&self, uid: u64) -> String {
        market::mix(self.instance.nonce ^ market::mix(uid)).to_string()
    }

    /// `/v5/user/query-api`.
    fn query_api(&self, uid: u64) -> Reply {
        let Some(a) = self
            .acct_by_uid
            .get(&uid)
            .and_then(|&i| self.accounts.get(i))
        else {
            return Reply::err(rej(10003, "API key is invalid."));
        };
        Reply::ok(account::key_info(
            a,
            &self.key_id(uid),
            self.instance.started_ms,
            self.now,
        ))
    }

    // ------------------------------------------------------------------
    // Private pushes

    fn flush_private(&mut self) {
        let now = self.now;
        let mut out = std::mem::take(&mut self.priv_batch);
        // Groups in first-appearance order: (uid, category).
        let mut groups: Vec<(u64, Category)> = Vec::new();
        for e in &self.pend_execs {
            if let Some(o) = self.orders.get(&e.key) {
                let g = (o.uid, self.books[o.book].cat);
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
        }
        for &(uid, cat) in &groups {
            let start = out.bytes.len();
            put(
                &mut out.bytes,
                b"{\"topic\":\"execution.fast\",\"creationTime\":",
            );
            put_u64(&mut out.bytes, now);
            put(&mut out.bytes, b",\"data\":[");
            let mut first = true;
            for e in &self.pend_execs {
                let Some(o) = self.orders.get(&e.key) else {
                    continue;
                };
                if o.uid != uid || self.books[o.book].cat != cat {
                    continue;
                }
                if !first {
                    out.bytes.push(b',');
                }
                first = false;
                self.put_exec_fast(&mut out.bytes, o, e);
            }
            put(&mut out.bytes, b"]}");
            let end = out.bytes.len();
            out.items.push(PrivateOut {
                uid,
                topic: PrivateTopic::ExecutionFast,
                category: Some(cat),
                range: start..end,
            });
        }
        // order
        let mut ogroups: Vec<(u64, Category)> = Vec::new();
        let mut seen: Vec<u64> = Vec::new();
        for &k in &self.pend_orders {
            if seen.contains(&k) {
                continue;
            }
            seen.push(k);
            if let Some(o) = self.orders.get(&k) {
                let g = (o.uid, self.books[o.book].cat);
                if !ogroups.contains(&g) {
                    ogroups.push(g);
                }
            }
        }
        for &(uid, cat) in &ogroups {
            let start = out.bytes.len();
            self.put_envelope_head(&mut out.bytes, "order", uid);
            let mut first = true;
            for &k in &seen {
                let Some(o) = self.orders.get(&k) else {
                    continue;
                };
                if o.uid != uid || self.books[o.book].cat != cat {
                    continue;
                }
                if !first {
                    out.bytes.push(b',');
                }
                first = false;
                self.put_order(&mut out.bytes, o);
            }
            put(&mut out.bytes, b"]}");
            let end = out.bytes.len();
            out.items.push(PrivateOut {
                uid,
                topic: PrivateTopic::Order,
                category: Some(cat),
                range: start..end,
            });
        }
        // execution
        for &(uid, cat) in &groups {
            let start = out.bytes.len();
            self.put_envelope_head(&mut out.bytes, "execution", uid);
            let mut first = true;
            for e in &self.pend_execs {
                let Some(o) = self.orders.get(&e.key) else {
                    continue;
                };
                if o.uid != uid || self.books[o.book].cat != cat {
                    continue;
                }
                if !first {
                    out.bytes.push(b',');
                }
                first = false;
                self.put_exec(&mut out.bytes, &HistExec::new(o, e));
            }
            put(&mut out.bytes, b"]}");
            let end = out.bytes.len();
            out.items.push(PrivateOut {
                uid,
                topic: PrivateTopic::Execution,
                category: Some(cat),
                range: start..end,
            });
        }
        // position
        let mut puids: Vec<u64> = Vec::new();
        let mut pseen: Vec<(u64, usize)> = Vec::new();
        for &g in &self.pend_pos {
            if !pseen.contains(&g) {
                pseen.push(g);
                if !puids.contains(&g.0) {
                    puids.push(g.0);
                }
            }
        }
        for &uid in &puids {
            let start = out.bytes.len();
            self.put_envelope_head(&mut out.bytes, "position", uid);
            let mut first = true;
            for &(u2, b) in &pseen {
                if u2 != uid {
                    continue;
                }
                let ai = self.acct_by_uid[&uid];
                let pos = self.accounts[ai]
                    .positions
                    .get(&b)
                    .cloned()
                    .unwrap_or(Position {
                        seq: -1,
                        ..Position::default()
                    });
                if !first {
                    out.bytes.push(b',');
                }
                first = false;
                self.put_position(&mut out.bytes, uid, b, &pos, false);
            }
            put(&mut out.bytes, b"]}");
            let end = out.bytes.len();
            out.items.push(PrivateOut {
                uid,
                topic: PrivateTopic::Position,
                category: Some(Category::Linear),
                range: start..end,
            });
        }
        // wallet
        let mut wuids: Vec<u64> = Vec::new();
        for &u in &self.pend_wallet {
            if !wuids.contains(&u) {
                wuids.push(u);
            }
        }
        for &uid in &wuids {
            let start = out.bytes.len();
            self.put_envelope_head(&mut out.bytes, "wallet", uid);
            self.put_wallet_elem(&mut out.bytes, uid, None);
            put(&mut out.bytes, b"]}");
            let end = out.bytes.len();
            out.items.push(PrivateOut {
                uid,
                topic: PrivateTopic::Wallet,
                category: None,
                range: start..end,
            });
        }
        // Remember what was pushed on `execution` for /v5/execution/list.
        for e in &self.pend_execs {
            let Some(o) = self.orders.get(&e.key) else {
                continue;
            };
            let h = self.exec_hist.entry(o.uid).or_default();
            if h.len() >= EXEC_HISTORY {
                h.pop_front();
            }
            h.push_back(HistExec::new(o, e));
        }
        self.pend_execs.clear();
        self.pend_orders.clear();
        self.pend_pos.clear();
        self.pend_wallet.clear();
        self.priv_batch = out;
    }

    fn put_envelope_head(&mut self, out: &mut Vec<u8>, topic: &str, uid: u64) {
        let n = self.next_msg;
        self.next_msg += 1;
        put(out, b"{\"id\":\"");
        put_u64(out, uid);
        out.push(b'_');
        put(out, topic.as_bytes());
        out.push(b'_');
        put_u64(out, n);
        put(out, b"\",\"topic\":\"");
        put(out, topic.as_bytes());
        put(out, b"\",\"creationTime\":");
        put_u64(out, self.now);
        put(out, b",\"data\":[");
    }

    fn put_order(&self, out: &mut Vec<u8>, o: &Order) {
        let book = &self.books[o.book];
        let spot = book.cat == Category::Spot;
        let fee_coin = if spot && o.side == Side::Buy {
            &book.base
        } else {
            &book.quote
        };
        put(out, b"{\"category\":\"");
        put(out, book.cat.as_str().as_bytes());
        put(out, b"\",\"symbol\":\"");
        put(out, book.symbol.as_bytes());
        put(out, b"\",\"orderId\":\"");
        put(out, o.order_id.as_bytes());
        put(out, b"\",\"orderLinkId\":\"");
        put(out, o.link.as_bytes());
        put(
            out,
            b"\",\"parentOrderLinkId\":\"\",\"blockTradeId\":\"\",\"isLeverage\":\"",
        );
        put(out, if spot { b"0" } else { b"" });
        put(out, b"\",\"side\":\"");
        put(out, o.side.as_str().as_bytes());
        put(out, b"\",\"orderType\":\"");
        put(
            out,
            if o.market {
                b"Market" as &[u8]
            } else {
                b"Limit"
            },
        );
        put(out, b"\",\"price\":");
        put_qstep(out, book.tick, o.price);
        put(out, b",\"qty\":");
        put_qstep(out, book.lot, o.qty);
        put(out, b",\"timeInForce\":\"");
        put(out, o.tif.as_str().as_bytes());
        put(out, b"\",\"orderStatus\":\"");
        put(out, o.status.as_str().as_bytes());
        put(out, b"\",\"cancelType\":\"");
        put(out, o.cancel_type.as_bytes());
        put(out, b"\",\"rejectReason\":\"");
        put(out, o.reject.as_bytes());
        put(out, b"\",\"avgPrice\":");
        if o.cum > 0 {
            out.push(b'"');
            // avg = cum_value_tl / cum in ticks, printed with 4 extra decimals.
            let scaled =
                o.cum_value_tl * 10_000 * i128::from(book.tick.units()) / i128::from(o.cum);
            wire::put_scaled_i128(out, scaled, book.tick.scale() + 4);
            out.push(b'"');
        } else {
            put(out, b"\"0\"");
        }
        put(out, b",\"leavesQty\":");
        put_qstep(out, book.lot, o.leaves());
        put(out, b",\"leavesValue\":");
        put_qmoney(
            out,
            book.tl_money(i128::from(o.price) * i128::from(o.leaves())),
        );
        put(out, b",\"cumExecQty\":");
        put_qstep(out, book.lot, o.cum);
        put(out, b",\"cumExecValue\":");
        put_qmoney(out, book.tl_money(o.cum_value_tl));
        put(out, b",\"cumExecFee\":");
        put_qmoney(out, o.fee);
        put(out, b",\"cumFeeDetail\":{");
        if o.fee != 0 {
            put_qstr(out, fee_coin);
            out.push(b':');
            put_qmoney(out, o.fee);
        }
        put(out, b"},\"feeCurrency\":");
        put_qstr(out, fee_coin);
        put(out, b",\"closedPnl\":\"0\",\"positionIdx\":0,\"createType\":\"CreateByUser\",\"orderIv\":\"\",\"marketUnit\":\"\",\"lastPriceOnCreated\":\"\",\"reduceOnly\":false,\"closeOnTrigger\":false,\"triggerPrice\":\"0\",\"takeProfit\":\"0\",\"stopLoss\":\"0\",\"tpslMode\":\"\",\"tpLimitPrice\":\"0\",\"slLimitPrice\":\"0\",\"tpTriggerBy\":\"\",\"slTriggerBy\":\"\",\"triggerDirection\":0,\"triggerBy\":\"\",\"stopOrderType\":\"\",\"ocoTriggerBy\":\"\",\"placeType\":\"\",\"smpType\":\"None\",\"smpGroup\":0,\"smpOrderId\":\"\",\"slippageToleranceType\":\"\",\"slippageTolerance\":\"\",\"brokerOrderPrice\":\"\",\"rpiTakerAccess\":false,\"rpiMatchedQty\":\"0\",\"createdTime\":");
        put_qu64(out, o.created);
        put(out, b",\"updatedTime\":");
        put_qu64(out, o.updated);
        out.push(b'}');
    }

    fn put_exec_fast(&self, out: &mut Vec<u8>, o: &Order, e: &ExecRec) {
        let book = &self.books[o.book];
        put(out, b"{\"category\":\"");
        put(out, book.cat.as_str().as_bytes());
        put(out, b"\",\"symbol\":\"");
        put(out, book.symbol.as_bytes());
        put(out, b"\",\"execId\":");
        let (hi, lo) = self.exec_id_halves(e.exec_id);
        wire::put_quuid(out, hi, lo);
        put(out, b",\"execPrice\":");
        put_qstep(out, book.tick, e.price);
        put(out, b",\"execQty\":");
        put_qstep(out, book.lot, e.qty);
        put(out, b",\"orderId\":\"");
        put(out, o.order_id.as_bytes());
        put(out, b"\",\"isMaker\":");
        put(out, if e.maker { b"true" as &[u8] } else { b"false" });
        put(out, b",\"orderLinkId\":\"");
        if !e.maker {
            put(out, o.link.as_bytes());
        }
        put(out, b"\",\"side\":\"");
        put(out, o.side.as_str().as_bytes());
        put(out, b"\",\"execTime\":");
        put_qu64(out, e.time);
        put(out, b",\"seq\":");
        put_u64(out, e.seq);
        out.push(b'}');
    }

    fn put_exec(&self, out: &mut Vec<u8>, h: &HistExec) {
        let e = &h.rec;
        let book = &self.books[h.book];
        let spot = book.cat == Category::Spot;
        let fee_coin = if spot && h.side == Side::Buy {
            &book.base
        } else {
            &book.quote
        };
        put(out, b"{\"category\":\"");
        put(out, book.cat.as_str().as_bytes());
        put(out, b"\",\"symbol\":\"");
        put(out, book.symbol.as_bytes());
        put(out, b"\",\"isLeverage\":\"0\",\"orderId\":\"");
        put(out, h.order_id.as_bytes());
        put(out, b"\",\"orderLinkId\":\"");
        put(out, h.link.as_bytes());
        put(out, b"\",\"side\":\"");
        put(out, h.side.as_str().as_bytes());
        put(out, b"\",\"orderPrice\":");
        put_qstep(out, book.tick, h.order_price);
        put(out, b",\"orderQty\":");
        put_qstep(out, book.lot, h.order_qty);
        put(out, b",\"leavesQty\":");
        put_qstep(out, book.lot, e.leaves);
        put(out, b",\"createType\":\"CreateByUser\",\"orderType\":\"");
        put(
            out,
            if h.market {
                b"Market" as &[u8]
            } else {
                b"Limit"
            },
        );
        put(out, b"\",\"stopOrderType\":\"\",\"execFee\":");
        put_qmoney(out, e.fee);
        put(out, b",\"feeCurrency\":");
        put_qstr(out, fee_coin);
        put(out, b",\"execId\":");
        let (hi, lo) = self.exec_id_halves(e.exec_id);
        wire::put_quuid(out, hi, lo);
        put(out, b",\"execPrice\":");
        put_qstep(out, book.tick, e.price);
        put(out, b",\"execQty\":");
        put_qstep(out, book.lot, e.qty);
        put(
            out,
            b",\"execPnl\":\"0\",\"execType\":\"Trade\",\"execValue\":",
        );
        put_qmoney(out, book.tl_money(i128::from(e.price) * i128::from(e.qty)));
        put(out, b",\"execTime\":");
        put_qu64(out, e.time);
        put(out, b",\"isMaker\":");
        put(out, if e.maker { b"true" as &[u8] } else { b"false" });
        put(out, b",\"feeRate\":");
        out.push(b'"');
        wire::put_scaled_i128(out, i128::from(e.fee_rate_e6), 6);
        out.push(b'"');
        put(out, b",\"tradeIv\":\"\",\"markIv\":\"\",\"markPrice\":");
        put_qstep(out, book.tick, e.price);
        put(
            out,
            b",\"indexPrice\":\"\",\"underlyingPrice\":\"\",\"blockTradeId\":\"\",\"closedSize\":",
        );
        put_qstep(out, book.lot, e.closed);
        put(out, b",\"extraFees\":\"\",\"marketUnit\":\"\",\"seq\":");
        put_u64(out, e.seq);
        out.push(b'}');
    }

    fn put_position(&self, out: &mut Vec<u8>, _uid: u64, b: usize, pos: &Position, rest: bool) {
        let book = &self.books[b];
        put(out, b"{\"category\":\"linear\",\"symbol\":\"");
        put(out, book.symbol.as_bytes());
        put(out, b"\",\"positionIdx\":0,\"tradeMode\":0,\"riskId\":1,\"riskLimitValue\":\"2000000\",\"side\":\"");
        put(
            out,
            match pos.size.signum() {
                1 => b"Buy" as &[u8],
                -1 => b"Sell",
                _ => b"",
            },
        );
        put(out, b"\",\"size\":");
        put_qstep(out, book.lot, pos.size.abs());
        put(
            out,
            if rest {
                b",\"avgPrice\":" as &[u8]
            } else {
                b",\"entryPrice\":"
            },
        );
        out.push(b'"');
        if pos.size != 0 {
            let scaled =
                pos.cost * 10_000 * i128::from(book.tick.units()) / i128::from(pos.size.abs());
            wire::put_scaled_i128(out, scaled, book.tick.scale() + 4);
        } else {
            out.push(b'0');
        }
        out.push(b'"');
        let mark = match (book.best(Side::Buy), book.best(Side::Sell)) {
            (Some(bb), Some(a)) => (bb + a) / 2,
            _ => book.last_price,
        };
        let value = book.tl_money(pos.cost);
        let upl = if pos.size != 0 {
            book.tl_money(i128::from(mark) * i128::from(pos.size.abs()) - pos.cost)
                * i128::from(pos.size.signum())
        } else {
            0
        };
        put(out, b",\"positionValue\":");
        put_qmoney(out, value);
        put(out, b",\"markPrice\":");
        put_qstep(out, book.tick, mark);
        put(out, b",\"leverage\":\"");
        put_u64(out, self.leverage as u64);
        put(out, b"\",\"positionIM\":");
        put_qmoney(out, value / self.leverage);
        put(out, b",\"positionIMByMp\":");
        put_qmoney(out, value / self.leverage);
        put(out, b",\"positionMM\":");
        put_qmoney(out, value / 200);
        put(out, b",\"positionMMByMp\":");
        put_qmoney(out, value / 200);
        put(
            out,
            b",\"leverageSysUpdatedTime\":\"\",\"mmrSysUpdatedTime\":\"\"",
        );
        put(out, b",\"liqPrice\":\"\",\"bustPrice\":\"\",\"breakEvenPrice\":\"\",\"takeProfit\":\"0\",\"stopLoss\":\"0\",\"trailingStop\":\"0\",\"unrealisedPnl\":");
        put_qmoney(out, upl);
        put(out, b",\"curRealisedPnl\":");
        put_qmoney(out, pos.cur_realised);
        put(out, b",\"cumRealisedPnl\":");
        put_qmoney(out, pos.cum_realised);
        put(out, b",\"sessionAvgPrice\":\"\",\"positionStatus\":\"Normal\",\"adlRankIndicator\":0,\"autoAddMargin\":0,\"isReduceOnly\":false,\"tpslMode\":\"Full\",\"positionBalance\":\"0\",\"createdTime\":");
        put_qu64(out, pos.created);
        put(out, b",\"updatedTime\":");
        put_qu64(out, pos.updated);
        put(out, b",\"seq\":");
        wire::put_i64(out, pos.seq);
        out.push(b'}');
    }

    /// USD value of `amount` of `coin` (USDT/USDC at 1; others at a spot mid).
    fn usd_value(&self, coin: &str, amount: i128) -> i128 {
        if coin == "USDT" || coin == "USDC" {
            return amount;
        }
        for b in &self.books {
            if b.base == coin && (b.quote == "USDT" || b.quote == "USDC") {
                let px = match (b.best(Side::Buy), b.best(Side::Sell)) {
                    (Some(x), Some(y)) => (x + y) / 2,
                    _ => b.last_price.max(b.start_price),
                };
                // amount (money) × price(ticks×tick) → money.
                let num = i128::from(px) * i128::from(b.tick.units());
                return amount * num / pow10(b.tick.scale());
            }
        }
        0
    }

    fn put_wallet_elem(&self, out: &mut Vec<u8>, uid: u64, only: Option<&[&str]>) {
        let Some(&ai) = self.acct_by_uid.get(&uid) else {
            return;
        };
        let acc = &self.accounts[ai];
        let im = self.linear_im(uid);
        let mut upl_total = 0i128;
        for (&b, pos) in &acc.positions {
            let book = &self.books[b];
            if pos.size != 0 {
                if let (Some(bb), Some(a)) = (book.best(Side::Buy), book.best(Side::Sell)) {
                    let mark = (bb + a) / 2;
                    upl_total += book
                        .tl_money(i128::from(mark) * i128::from(pos.size.abs()) - pos.cost)
                        * i128::from(pos.size.signum());
                }
            }
        }
        let mut total_wallet = 0i128;
        for (name, c) in &acc.coins {
            total_wallet += self.usd_value(name, c.wallet);
        }
        let equity = total_wallet + upl_total;
        put(out, b"{\"accountType\":\"UNIFIED\",\"accountIMRate\":\"0\",\"accountIMRateByMp\":\"0\",\"accountMMRate\":\"0\",\"accountMMRateByMp\":\"0\",\"accountLTV\":\"0\",\"totalEquity\":");
        put_qmoney(out, equity);
        put(out, b",\"totalWalletBalance\":");
        put_qmoney(out, total_wallet);
        put(out, b",\"totalMarginBalance\":");
        put_qmoney(out, equity);
        put(out, b",\"totalAvailableBalance\":");
        put_qmoney(out, equity - im);
        put(out, b",\"totalPerpUPL\":");
        put_qmoney(out, upl_total);
        put(out, b",\"totalInitialMargin\":");
        put_qmoney(out, im);
        put(out, b",\"totalInitialMarginByMp\":");
        put_qmoney(out, im);
        put(out, b",\"totalMaintenanceMargin\":");
        put_qmoney(out, im / 20);
        put(out, b",\"totalMaintenanceMarginByMp\":");
        put_qmoney(out, im / 20);
        put(out, b",\"coin\":[");
        let mut first = true;
        for (name, c) in &acc.coins {
            if only.is_some_and(|o| !o.contains(&name.as_str())) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            let is_settle = name == "USDT";
            let upl = if is_settle { upl_total } else { 0 };
            put(out, b"{\"coin\":");
            put_qstr(out, name);
            put(out, b",\"equity\":");
            put_qmoney(out, c.wallet + upl);
            put(out, b",\"usdValue\":");
            put_qmoney(out, self.usd_value(name, c.wallet + upl));
            put(out, b",\"walletBalance\":");
            put_qmoney(out, c.wallet);
            put(out, b",\"locked\":");
            put_qmoney(out, c.locked);
            put(out, b",\"availableToWithdraw\":");
            put_qmoney(out, c.wallet - c.locked - if is_settle { im } else { 0 });
            put(out, b",\"availableToBorrow\":\"\",\"borrowAmount\":\"0\",\"spotBorrow\":\"0\",\"accruedInterest\":\"0\",\"totalOrderIM\":");
            put_qmoney(out, 0);
            put(out, b",\"totalPositionIM\":");
            put_qmoney(out, if is_settle { im } else { 0 });
            put(out, b",\"totalPositionMM\":\"0\",\"unrealisedPnl\":");
            put_qmoney(out, upl);
            put(out, b",\"cumRealisedPnl\":");
            put_qmoney(out, c.cum_realised);
            put(out, b",\"bonus\":\"0\",\"collateralSwitch\":true,\"marginCollateral\":true,\"spotHedgingQty\":\"0\"}");
        }
        put(out, b"]}");
    }
}

/// Merges two per-side "most aggressive changed price" marks.
fn merge_dirty(a: [Option<i64>; 2], b: [Option<i64>; 2]) -> [Option<i64>; 2] {
    let m = |x: Option<i64>, y: Option<i64>, bid: bool| match (x, y) {
        (Some(p), Some(q)) => Some(if bid { p.max(q) } else { p.min(q) }),
        (p, q) => p.or(q),
    };
    [m(a[0], b[0], true), m(a[1], b[1], false)]
}

/// Diffs two best-first level lists into Bybit delta entries: changed or new
/// levels with their size, vanished levels with size 0 (best-first order).
fn diff_levels(old: &[(i64, i64)], new: &[(i64, i64)], side: Side, out: &mut Vec<(i64, i64)>) {
    out.clear();
    let better = |a: i64, b: i64| match side {
        Side::Buy => a > b,
        Side::Sell => a < b,
    };
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(&(po, qo)), Some(&(pn, qn))) => {
                if po == pn {
                    if qo != qn {
                        out.push((pn, qn));
                    }
                    i += 1;
                    j += 1;
                } else if better(pn, po) {
                    out.push((pn, qn));
                    j += 1;
                } else {
                    out.push((po, 0));
                    i += 1;
                }
            }
            (Some(&(po, _)), None) => {
                out.push((po, 0));
                i += 1;
            }
            (None, Some(&(pn, qn))) => {
                out.push((pn, qn));
                j += 1;
            }
            (None, None) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_emits_inserts_updates_and_deletes() {
        let mut out = Vec::new();
        diff_levels(
            &[(10, 1), (9, 2), (8, 3)],
            &[(11, 5), (10, 1), (8, 4)],
            Side::Buy,
            &mut out,
        );
        assert_eq!(out, vec![(11, 5), (9, 0), (8, 4)]);
        diff_levels(&[(10, 1)], &[], Side::Sell, &mut out);
        assert_eq!(out, vec![(10, 0)]);
    }
}
