//! Order stage: quote targets in, order requests on the wire, order state from
//! the private streams.
//!
//! The order manager ([`crate::oms::Oms`]) decides; this stage only moves
//! bytes: it turns the manager's actions into signed WS-trade frames (or REST
//! requests), and turns the WS-trade / REST responses and the private
//! `order` / `execution` / `execution.fast` pushes back into manager inputs.
//! Order state is driven by the private streams, never by acks alone.
//!
//! Contract (steady state, WS transport): no allocation (request and receive
//! buffers are sized at start-up; the codecs write into them), no lock, one
//! `epoll_wait(0)` per poll, socket I/O only, nothing that blocks. TSC stamps
//! for the `encode`, `write`, `tick_to_wire`, `ack` and `confirm` hops;
//! monotonic ns for the manager's timers; wall-clock ms for request
//! timestamps.
//!
//! The open-order query the manager asks for after a reconnect or a timeout
//! does not block either: the signed `GET /v5/order/realtime` goes out on the
//! control connection (its own keep-alive connection, never behind an order)
//! from a buffer sized at start-up, and the answer is read by [`Stage::poll`]
//! when it arrives; meanwhile the private stream, acks and fills are read as
//! usual; a list longer than a page (50 orders) is followed page by page
//! (up to 20) before the manager sees it. The answer path allocates (the REST decoder builds the order list;
//! the order events go into a buffer sized at start-up, grown only for more
//! than 64 orders) — once per query, i.e. only after a fault. The query is
//! sent with the manager's [`crate::oms::QueryTicket`] and its answer is
//! handed back with it, so an answer the manager no longer awaits changes
//! nothing; a newer query replaces one still unanswered (the control
//! connection is dropped, so the old answer is never read). A query that
//! fails or stays unanswered is asked again by the manager after its query
//! timeout, which doubles with each miss in a row (up to 8×) so that a slow
//! exchange's answer is not dropped again and again.
//!
//! While the private stream may have missed fills (before its first
//! subscription, or after it was lost), the query first reads the execution
//! list from then on and counts what the stream did not deliver (decoding
//! those pages allocates, once per gap); only then are the open orders read.
//!
//! A lost trade link (or REST order connection) hands the requests still
//! queued back to the manager before it learns of the loss; they never go
//! out on the next connection.
//!
//! Blocking, by design, and only with quoting stopped: the cancel-all of
//! shutdown (which a halted manager, a refused key or a refused private
//! subscription also start), on the control connection after any query
//! still in flight on it was dropped.
//!
//! The action queue holds [`QUEUE`] actions; one that does not fit is handed
//! back to the manager ([`Oms::on_unsent`], counted in `OrderBoard::unsent`),
//! which undoes it and decides again — nothing is dropped while the manager
//! believes it sent.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use crate::codec::private::{
    write_auth_request, write_subscribe, OrderStatus as WireStatus, OrderUpdate, PrivateDecoder,
    PrivateEvent, RejectReason as WireReject,
};
use crate::codec::public::Level;
use crate::codec::rest::{
    Amend, InstrumentSpec, NewOrder, OrderRef as WireRef, RestCodec, RestDecoder, RestError,
};
use crate::codec::sign::Credentials;
use crate::codec::trade::{TradeCodec, TradeDecoder, TradeOp};
use crate::engine::conn::{ConnEvent, ManagedWs};
use crate::engine::metrics::{Hop, HopRecorder};
use crate::engine::msg::{OwnOrders, PositionNote, QuoteTarget};
use crate::engine::status::{inc, set, Board, Fatal};
use crate::engine::topology::Stage;
use crate::ids::{OrderId, OrderLinkId, ReqId, UpdateId};
use crate::net::http::HttpConn;
use crate::net::txstamp::realtime_ns;
use crate::net::warm::WarmLink;
use crate::net::ws::WsConn;
use crate::net::Endpoint;
use crate::oms::{
    AckEvent, AckOp, Action, AmendReq, Endpoint as Ep, Fill, Link, Oms, OrderEvent, OrderRef,
    OrderState, OrderStatus, QueryTicket, RateLimitInfo, RejectReason, Target, ACTION_CAP,
};
use crate::time::{wall_ms, Clock, ExchMs, Tsc};
use crate::units::{Lots, Side, Ticks};

const TRADE: Token = Token(1);
const PRIVATE: Token = Token(2);
const REST: Token = Token(3);
/// The control connection: open-order queries (non-blocking) and cancel-all
/// (blocking, shutdown only).
const CONTROL: Token = Token(4);
const PENDING: usize = 64;
/// Actions the stage holds for sending (see the module doc for overflow).
pub const QUEUE: usize = 32;
/// Order events one open-order answer holds without growing its buffer.
const QUERY_EVENTS: usize = 64;
/// How often the local rate budget is published on the status board.
const BUDGET_PUBLISH_NS: u64 = 50_000_000;
const CONTROL_TIMEOUT: Duration = Duration::from_secs(3);

/// How orders travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderTransport {
    /// WebSocket trade API.
    Ws,
    /// REST keep-alive.
    Rest,
}

/// Order-stage settings.
pub struct OrderConfig {
    /// WS trade endpoint (used with [`OrderTransport::Ws`]).
    pub trade_ws: Endpoint,
    /// Private stream endpoint.
    pub private_ws: Endpoint,
    /// REST endpoint (control calls, and orders with [`OrderTransport::Rest`]).
    pub rest: Endpoint,
    /// Transport for order requests.
    pub transport: OrderTransport,
    /// Instrument (precision for every request).
    pub inst: InstrumentSpec,
    /// Keys.
    pub creds: Credentials,
    /// recv_window for signed requests.
    pub recv_window_ms: u32,
    /// Quote size per side.
    pub quote_qty: Lots,
    /// Backoff seed.
    pub seed: u64,
    /// Rehearse the send path this often while idle (WS transport; zero =
    /// never). See [`crate::net::warm`].
    pub warm_every: Duration,
    /// Exchange time from which fills may have been missed at start-up: the
    /// start-up reads account for everything before it, the private stream
    /// for everything after its subscription. The first open-order query
    /// reads the execution list from here.
    pub fills_from: ExchMs,
    /// Heartbeat interval of the private and trade streams
    /// ([`ManagedWs::with_heartbeat`]).
    pub ping: Duration,
    /// Tag REST order requests with the market message they react to
    /// ([`crate::codec::rest::RestCodec::set_tag`]). The simulator only: the
    /// measuring point reads it; a real venue is never sent the header.
    pub tag_rest: bool,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    req_id: ReqId,
    op: AckOp,
    ep: Ep,
    links: [OrderLinkId; 2],
    n: u8,
    t_written: Tsc,
}

/// Requests written and not yet answered, by request id: a ring of
/// [`PENDING`] entries, each request in the next one (the oldest is
/// overwritten once the ring is full; its answer is then ignored and the
/// manager's ack timeout takes over). Fixed size, no allocation.
#[derive(Clone, Copy, Debug)]
struct PendingTable {
    slots: [Option<Pending>; PENDING],
    next: usize,
}

impl PendingTable {
    const EMPTY: PendingTable = PendingTable {
        slots: [None; PENDING],
        next: 0,
    };

    fn remember(&mut self, p: Pending) {
        if let Some(s) = self.slots.get_mut(self.next % PENDING) {
            *s = Some(p);
        }
        self.next = self.next.wrapping_add(1);
    }

    fn take(&mut self, req_id: &ReqId) -> Option<Pending> {
        self.slots
            .iter_mut()
            .find(|s| s.is_some_and(|p| p.req_id == *req_id))
            .and_then(Option::take)
    }
}

/// Frame read → transmit stamp for a reaction whose request's `write`
/// returned `x.read_to_written_ns` after the frame was read, at
/// `x.written_real_ns`. A stamp after the `write` returned (a deferred
/// transmit) adds to it; one from before the frame was read cannot be this
/// request's (1 µs is allowed for reading the two clocks) and gives `None`.
fn tick_to_tx(x: &TxWait, tx_real_ns: i64) -> Option<u64> {
    let before_return = x.written_real_ns.saturating_sub(tx_real_ns);
    match u64::try_from(before_return) {
        // Transmitted after the write returned.
        Err(_) => Some(
            x.read_to_written_ns
                .saturating_add(tx_real_ns.saturating_sub(x.written_real_ns).unsigned_abs()),
        ),
        Ok(b) if b <= x.read_to_written_ns => Some((x.read_to_written_ns - b).max(1)),
        Ok(b) if b <= x.read_to_written_ns.saturating_add(1_000) => Some(1),
        Ok(_) => None,
    }
}

/// A reaction's request waiting for its transmit stamp.
#[derive(Clone, Copy, Debug)]
struct TxWait {
    /// Stamp key of the request's last byte.
    key: u32,
    /// Frame read → `write` returned, on the TSC clock.
    read_to_written_ns: u64,
    /// `CLOCK_REALTIME` when the `write` returned.
    written_real_ns: i64,
}

const TX_WAITS: usize = 8;

/// Actions [`OrderStage::enqueue`] could not queue (at most one manager
/// call's worth), to be handed back with [`hand_back`].
#[derive(Debug, Clone, Copy)]
struct Overflow {
    acts: [Option<Action>; ACTION_CAP],
    n: usize,
}

impl Overflow {
    const NONE: Overflow = Overflow {
        acts: [None; ACTION_CAP],
        n: 0,
    };
}

/// Hands actions the queue could not take back to the manager (which undoes
/// them and decides again) and counts them.
fn hand_back(oms: &mut Oms, board: &Board, lost: &mut Overflow, now: u64) {
    for a in lost.acts.iter().take(lost.n).flatten() {
        oms.on_unsent(a, now);
        inc(&board.orders.unsent);
    }
    lost.n = 0;
}

/// The open-order query on the control connection.
#[derive(Clone, Copy, Debug)]
struct QueryInFlight {
    /// The manager's name for it, handed back with the answer.
    ticket: QueryTicket,
    /// Pages requested so far in this phase.
    pages: u8,
    /// Which list is being read.
    phase: QueryPhase,
    /// When the current page was asked for (monotonic ns).
    sent_ns: u64,
}

/// A query's two lists, in order: the fills the private stream may have
/// missed (only while [`OrderStage::fill_gap`] is open), then the open orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum QueryPhase {
    /// The execution list's seven-day window starting here.
    Fills(ExchMs),
    /// The open-order list.
    Orders,
}

/// How long an order request over REST may stay unanswered before its
/// connection is given up (Bybit answers in milliseconds; the request's own
/// recv_window is 5 s by default).
const REST_ANSWER_TIMEOUT_NS: u64 = 5_000_000_000;

/// Most execution-list pages (100 fills each) one catch-up follows within a
/// seven-day window; more fails the query (asked again later) rather than
/// count a part of the window.
const FILL_PAGES: u8 = 50;

/// A catch-up whose current page was asked for less than this long ago is
/// left to finish when the manager asks again (a restart would begin anew).
const FILL_PAGE_WAIT_NS: u64 = 5_000_000_000;

/// Catch-ups that fail in a row before the engine stops: with fills it
/// cannot read, its position is unknown, and its quotes must go.
const FILL_TRIES: u8 = 8;

/// How far before a private-stream loss was noticed fills are read again:
/// a link can die silently and be noticed only by its missing pong (the
/// application ping goes every 20 s). Fills the stream did deliver are
/// recognised by their execution id and not counted twice.
const FILL_GAP_MARGIN_MS: u64 = 60_000;

/// Most pages one open-order query follows (50 orders each); a longer list
/// fails the query rather than be taken for complete.
const QUERY_PAGES: u8 = 20;
/// Rows of a full page (`limit=50` in the request).
const QUERY_PAGE_ROWS: usize = 50;

/// The cursor of the open-order list's next page, if there is one: Bybit
/// sends a cursor with every page, the last one included, so a page of
/// `rows` short of the limit is the last whatever its cursor says.
fn next_page(rows: usize, cursor: Option<&str>) -> Option<&str> {
    cursor.filter(|c| rows >= QUERY_PAGE_ROWS && !c.is_empty())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shutdown {
    Running,
    Requested,
    Done,
}

/// The order stage.
pub struct OrderStage {
    /// See [`OrderConfig::tag_rest`].
    tag_rest: bool,
    poll: Poll,
    events: Events,
    trade: Option<ManagedWs>,
    private: ManagedWs,
    rest: HttpConn,
    control: HttpConn,
    transport: OrderTransport,
    trade_authed: bool,
    private_ready: bool,
    oms: Oms,
    inst: InstrumentSpec,
    creds: Credentials,
    trade_codec: TradeCodec,
    rest_codec: RestCodec,
    trade_dec: TradeDecoder,
    priv_dec: PrivateDecoder,
    rest_dec: RestDecoder,
    targets: rtrb::Consumer<QuoteTarget>,
    positions: rtrb::Producer<PositionNote>,
    own_out: Option<rtrb::Producer<OwnOrders>>,
    own_sent: OwnOrders,
    journal: rtrb::Producer<u8>,
    rec: HopRecorder,
    clock: Clock,
    origin: Tsc,
    board: Arc<Board>,
    wire: Vec<u8>,
    rx: Vec<u8>,
    /// `(offset, len)` of each frame of the current drain inside `rx`.
    frames: Vec<(usize, usize)>,
    queue: [Option<Action>; QUEUE],
    queued: usize,
    /// Actions the queue could not take, until handed back ([`hand_back`]).
    lost: Overflow,
    /// The open-order query awaiting its answer on `control`.
    query: Option<QueryInFlight>,
    /// Request buffer of the open-order query.
    query_wire: Vec<u8>,
    /// Order events of an open-order answer.
    query_events: Vec<OrderEvent>,
    /// Exchange time from which fills may have been missed (the private
    /// stream was not subscribed, or was lost): the next query reads the
    /// execution list from there before the open orders. `None` once read.
    fill_gap: Option<ExchMs>,
    /// Fills on the symbol read by the current catch-up's window, until
    /// the window is complete.
    gap_fills: Vec<Fill>,
    /// Catch-ups failed in a row ([`FILL_TRIES`]).
    fill_failures: u8,
    /// When the local budget was last published (monotonic ns).
    budget_published: Option<u64>,
    pending: PendingTable,
    rest_inflight: Option<Pending>,
    req_seq: u64,
    qty: Lots,
    current: Option<QuoteTarget>,
    /// The current target arrived in this poll and the manager's decision on
    /// it is being sent: those requests are its reaction (tick-to-wire).
    /// Cleared once that dispatch is done: a request the manager releases
    /// later, even in the same poll (after reading a confirmation it was
    /// waiting for), is timed by the exchange's push, not by the tick.
    fresh: bool,
    /// The fresh target's first request has not been written yet: the
    /// reaction hops are taken on that one (a reaction's later requests
    /// follow it by one `write` each).
    first_unsent: bool,
    /// The newest target's `u` while its decision was held back; its first
    /// request, when it goes, is counted in `OrderBoard::held`.
    held: Option<UpdateId>,
    /// Reactions whose request waits for its kernel transmit stamp.
    tx_waits: [Option<TxWait>; TX_WAITS],
    /// Last valid (best bid, best ask) a target carried.
    touch: Option<(Ticks, Ticks)>,
    awaiting: [Option<Tsc>; 2],
    last_position: Lots,
    shutdown_req: Arc<AtomicBool>,
    shutdown: Shutdown,
    last_rotate: Instant,
    /// `CLOCK_REALTIME` ns and [`Self::now_ns`] read together after each
    /// poll's sends: request timestamps are derived from the TSC
    /// ([`Self::request_ts`]), leaving no clock call on the send path.
    wall_base: (i64, u64),
    /// Rehearsal: a journal-less copy of the manager, a private loopback
    /// connection, a request buffer, the period and the last rehearsal.
    shadow: Oms,
    warm: Option<WarmLink>,
    warm_wire: Vec<u8>,
    warm_every_ns: u64,
    last_warm: Tsc,
    /// Which reaction shape the next rehearsal takes ([`Self::rehearse`]).
    warm_turn: u8,
}

/// Encodes `a` as a WS-trade request into `out`; `None` for actions that are
/// not WS-trade requests (cancel-all and open-order queries go over REST).
fn encode_ws(
    codec: &TradeCodec,
    out: &mut Vec<u8>,
    a: &Action,
    req_id: &ReqId,
    ts: ExchMs,
    inst: &InstrumentSpec,
) -> Option<Result<(), crate::codec::trade::TradeError>> {
    Some(match *a {
        Action::Create {
            side,
            price,
            qty,
            link_id,
            ..
        } => codec.create(
            out,
            req_id,
            ts,
            inst,
            &NewOrder::post_only(side, price, qty, link_id),
        ),
        Action::Amend { req, .. } => codec.amend(out, req_id, ts, inst, &wire_amend(&req)),
        Action::AmendBatch { reqs, .. } => codec.amend_batch(
            out,
            req_id,
            ts,
            inst,
            &[wire_amend(&reqs[0]), wire_amend(&reqs[1])],
        ),
        Action::Cancel { order, .. } => codec.cancel(out, req_id, ts, inst, &wire_ref(&order)),
        Action::CancelAll | Action::QueryOpenOrders => return None,
    })
}

/// Hands quote target `t` to the manager and returns the actions to send.
/// `touch` is the last valid touch, updated from `t`: a pull (invalid or
/// stale book) carries no market, and the manager refuses a target without
/// a valid touch, so a pull is given the last one — otherwise the quotes
/// would stay on the exchange. A pull before any market still cancels
/// (orders adopted at start-up). `None` when the manager refused the
/// target. The order stage and the backtest both call this.
#[inline]
pub fn decide<'a>(
    oms: &'a mut Oms,
    t: &QuoteTarget,
    touch: &mut Option<(Ticks, Ticks)>,
    qty: Lots,
    now: u64,
) -> Option<&'a [Action]> {
    if t.touch_bid.0 > 0 && t.touch_ask.0 > t.touch_bid.0 {
        *touch = Some((t.touch_bid, t.touch_ask));
    }
    match *touch {
        Some(touch) => oms
            .on_target(&Target {
                bid: t.bid,
                ask: t.ask,
                qty,
                touch,
                trigger_u: t.u,
                now,
            })
            .ok(),
        None if t.bid.is_none() && t.ask.is_none() => Some(oms.on_pull(qty, t.u, now)),
        None => None,
    }
}

/// Our resting orders as the exchange confirmed them (working, or with an
/// amend or cancel in flight), for the feed to take out of the book. The
/// order stage and the backtest both call this.
pub fn own_orders(oms: &Oms) -> OwnOrders {
    let resting = |s: &crate::oms::OrderSlot| {
        matches!(
            s.state,
            OrderState::Working | OrderState::PendingAmend | OrderState::PendingCancel
        )
        .then_some(Level {
            price: s.price,
            qty: s.leaves,
        })
    };
    OwnOrders {
        levels: [resting(oms.slot(Side::Buy)), resting(oms.slot(Side::Sell))],
    }
}

/// The manager's fill for an execution that moves the position: a trade,
/// and on derivatives an auto-deleveraging or liquidation fill, a delivery,
/// a block trade or a position move (none of them comes from our orders, but
/// each changes what we hold). `None` for funding, settlement and unknown
/// types.
pub fn fill_of(x: &crate::codec::private::Execution) -> Option<Fill> {
    x.exec_type.moves_position().then_some(Fill {
        exec_id: x.exec_id,
        order_id: x.order_id,
        link_id: x.order_link_id,
        side: x.side,
        price: x.exec_price,
        qty: x.exec_qty,
        fee: x.exec_fee,
        fee_base_nlots: x.fee_base_nlots,
        is_maker: x.is_maker,
        exec_time: x.exec_time,
    })
}

/// The exchange's open orders for the instrument over `conn`, every page
/// (blocking, up to 3 s per page; `None` on any failure).
/// Allocates. Used at start-up and by shutdown's confirmation.
pub fn open_orders_blocking(
    conn: &mut HttpConn,
    codec: &RestCodec,
    dec: &mut RestDecoder,
    inst: &InstrumentSpec,
) -> Result<Vec<OrderUpdate>, OpenOrdersError> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    // Every page (Bybit pages 50 orders): an order of ours on a later page
    // must not be taken for absent. A longer list than QUERY_PAGES pages is
    // a failure, never a partial answer.
    for _ in 0..QUERY_PAGES {
        let mut req = Vec::new();
        codec
            .order_realtime(&mut req, wall_ms(), inst, true, cursor.as_deref())
            .map_err(OpenOrdersError::Rest)?;
        let mut body = conn
            .request_blocking(&req, CONTROL_TIMEOUT)
            .map_err(|e| OpenOrdersError::Net(e.to_string()))?
            .body
            .to_vec();
        let page = dec
            .decode_orders(&mut body, inst)
            .map_err(OpenOrdersError::Rest)?;
        let rows = page.orders.len() + page.skipped;
        let next = next_page(rows, page.next_cursor.as_deref()).map(str::to_owned);
        all.extend(page.orders);
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(all),
        }
    }
    Err(OpenOrdersError::TooManyPages)
}

/// Why the exchange's open-order list could not be read.
#[derive(Debug)]
pub enum OpenOrdersError {
    /// Encoding the request or decoding the answer; an exchange refusal is
    /// [`RestError::Api`] with its `retCode` and `retMsg`.
    Rest(RestError),
    /// The connection failed or timed out.
    Net(String),
    /// More than `QUERY_PAGES` pages.
    TooManyPages,
}

impl std::fmt::Display for OpenOrdersError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // A key or permission refusal names what to fix.
            OpenOrdersError::Rest(RestError::Api { code, msg }) => {
                write!(f, "the exchange refused: {code} {msg}")?;
                if crate::engine::account::key_culprit(*code).is_some() {
                    write!(
                        f,
                        " (check BYBIT_API_KEY / BYBIT_API_SECRET and the key's permissions)"
                    )?;
                }
                Ok(())
            }
            OpenOrdersError::Rest(e) => write!(f, "{e}"),
            OpenOrdersError::Net(e) => write!(f, "{e}"),
            OpenOrdersError::TooManyPages => {
                write!(f, "more than {QUERY_PAGES} pages of open orders")
            }
        }
    }
}

/// Cancel-all for the instrument over `conn` (blocking; the answer comes back
/// on the order stream, so failures are only seen by a later check).
fn cancel_all_request(conn: &mut HttpConn, codec: &RestCodec, inst: &InstrumentSpec) {
    let mut req = Vec::new();
    if codec.cancel_all(&mut req, wall_ms(), inst).is_ok() {
        let _ = conn.request_blocking(&req, CONTROL_TIMEOUT);
    }
}

/// Shutdown's cancel-all: cancel-all, then the exchange's open orders, until
/// it lists none of ours; at most five attempts 200 ms apart (blocking).
/// Whether the exchange confirmed. Used by the order stage, and by the
/// monitor when the order stage's thread has died.
pub fn cancel_all_confirmed(
    conn: &mut HttpConn,
    codec: &RestCodec,
    dec: &mut RestDecoder,
    inst: &InstrumentSpec,
) -> bool {
    for _ in 0..5 {
        cancel_all_request(conn, codec, inst);
        let open = open_orders_blocking(conn, codec, dec, inst);
        if open.is_ok_and(|o| !o.iter().any(|o| crate::oms::is_ours(&o.order_link_id))) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

fn side_ix(s: Side) -> usize {
    match s {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

fn map_status(s: WireStatus) -> OrderStatus {
    match s {
        WireStatus::New => OrderStatus::New,
        WireStatus::PartiallyFilled => OrderStatus::PartiallyFilled,
        WireStatus::Untriggered => OrderStatus::Untriggered,
        WireStatus::Rejected => OrderStatus::Rejected,
        WireStatus::PartiallyFilledCanceled => OrderStatus::PartiallyFilledCanceled,
        WireStatus::Filled => OrderStatus::Filled,
        WireStatus::Cancelled => OrderStatus::Cancelled,
        WireStatus::Triggered => OrderStatus::Triggered,
        WireStatus::Deactivated => OrderStatus::Deactivated,
    }
}

/// Maps a decoded `order` record into the manager's input.
pub fn order_event(o: &OrderUpdate) -> OrderEvent {
    OrderEvent {
        order_id: o.order_id,
        link_id: o.order_link_id,
        side: o.side,
        price: o.price,
        qty: o.qty,
        leaves_qty: o.leaves_qty,
        cum_exec_qty: o.cum_exec_qty,
        status: map_status(o.status),
        reject_reason: match o.reject_reason {
            WireReject::NoError => RejectReason::None,
            WireReject::PostOnlyWillTakeLiquidity => RejectReason::PostOnlyWillTakeLiquidity,
            _ => RejectReason::Other,
        },
        updated: o.updated_time,
    }
}

fn wire_ref(o: &OrderRef) -> WireRef {
    if o.order_id.is_empty() {
        WireRef::LinkId(o.link_id)
    } else {
        WireRef::OrderId(o.order_id)
    }
}

fn wire_amend(a: &AmendReq) -> Amend {
    Amend {
        id: wire_ref(&a.order),
        price: Some(a.price),
        qty: a.qty,
    }
}

/// Copies every frame one drain delivers into `rx`, recording each frame's
/// `(offset, len)` in `frames`: the decoders need `&mut` bytes and the order
/// manager's reaction needs `&mut self`, so frames cannot be handled inside
/// the read callback. Both buffers are sized at start-up; an unusually large
/// burst grows them (an allocation) rather than drop a frame, because a lost
/// `order` or `execution` push would be lost state.
fn drain_into(
    ws: &mut WsConn,
    rx: &mut Vec<u8>,
    frames: &mut Vec<(usize, usize)>,
) -> Result<usize, crate::net::NetError> {
    rx.clear();
    frames.clear();
    ws.read_frames(|f| {
        frames.push((rx.len(), f.len()));
        rx.extend_from_slice(f);
    })
}

impl OrderStage {
    /// Builds the stage. `oms` must already hold the start-up state
    /// (adopted open orders, position, recovered journal).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: OrderConfig,
        mut oms: Oms,
        targets: rtrb::Consumer<QuoteTarget>,
        positions: rtrb::Producer<PositionNote>,
        journal: rtrb::Producer<u8>,
        rec: HopRecorder,
        board: Arc<Board>,
        shutdown_req: Arc<AtomicBool>,
    ) -> std::io::Result<OrderStage> {
        let poll = Poll::new()?;
        let io = std::io::Error::other;
        let trade = match cfg.transport {
            OrderTransport::Ws => {
                let mut ws = WsConn::new(cfg.trade_ws, poll.registry(), TRADE).map_err(io)?;
                // Kernel transmit stamps give the `tick_to_tx` hop.
                ws.set_tx_timestamps(true);
                Some(ManagedWs::new(ws, cfg.seed ^ 0x51).with_heartbeat(cfg.ping))
            }
            OrderTransport::Rest => None,
        };
        let private = ManagedWs::new(
            WsConn::new(cfg.private_ws, poll.registry(), PRIVATE).map_err(io)?,
            cfg.seed ^ 0x77,
        )
        .with_heartbeat(cfg.ping);
        let host = cfg.rest.url().host_header();
        // Orders over REST keep a connection of their own: a blocking query or
        // the shutdown cancel-all must never wait behind (or be refused
        // because of) an order request in flight.
        let control = HttpConn::new(cfg.rest.clone(), poll.registry(), CONTROL).map_err(io)?;
        let rest = HttpConn::new(cfg.rest, poll.registry(), REST).map_err(io)?;
        let clock = Clock::new();
        let origin = clock.stamp();
        let position = oms.position();
        let shadow = oms.clone();
        let warm = if cfg.transport == OrderTransport::Ws && !cfg.warm_every.is_zero() {
            Some(WarmLink::open()?)
        } else {
            None
        };
        // No link is open yet. The manager must not quote before the trade
        // link is authenticated and the private streams are subscribed and
        // reconciled by an open-order query: creates queued before that would
        // race the query, be taken for gone, and be sent a second time.
        // (Over REST there is no trade link to wait for: each request is
        // signed on its own.)
        let mut queue = [None; QUEUE];
        let mut queued = 0;
        let mut lost = Overflow::NONE;
        let down: &[Link] = match cfg.transport {
            OrderTransport::Ws => &[Link::Trade, Link::Private],
            OrderTransport::Rest => &[Link::Private],
        };
        for &link in down {
            let acts = oms.on_disconnect(link, 0);
            Self::enqueue(&mut queue, &mut queued, &mut lost, acts);
            hand_back(&mut oms, &board, &mut lost, 0);
        }
        Ok(OrderStage {
            tag_rest: cfg.tag_rest,
            poll,
            events: Events::with_capacity(16),
            trade,
            private,
            rest,
            control,
            transport: cfg.transport,
            trade_authed: false,
            private_ready: false,
            trade_codec: TradeCodec::new(cfg.creds.signer(), cfg.recv_window_ms),
            rest_codec: RestCodec::new(cfg.creds.signer(), &host, cfg.recv_window_ms)
                .map_err(std::io::Error::other)?,
            creds: cfg.creds,
            trade_dec: TradeDecoder::new(),
            priv_dec: PrivateDecoder::new(cfg.inst),
            rest_dec: RestDecoder::new(),
            inst: cfg.inst,
            oms,
            targets,
            positions,
            own_out: None,
            own_sent: OwnOrders::default(),
            journal,
            rec,
            clock,
            origin,
            board,
            wire: Vec::with_capacity(8 * 1024),
            rx: Vec::with_capacity(256 * 1024),
            frames: Vec::with_capacity(256),
            queue,
            queued,
            lost,
            query: None,
            query_wire: Vec::with_capacity(2 * 1024),
            query_events: Vec::with_capacity(QUERY_EVENTS),
            fill_gap: Some(cfg.fills_from),
            gap_fills: Vec::with_capacity(256),
            fill_failures: 0,
            budget_published: None,
            pending: PendingTable::EMPTY,
            rest_inflight: None,
            req_seq: 0,
            qty: cfg.quote_qty,
            current: None,
            fresh: false,
            first_unsent: false,
            held: None,
            tx_waits: [None; TX_WAITS],
            touch: None,
            awaiting: [None; 2],
            last_position: position,
            shutdown_req,
            shutdown: Shutdown::Running,
            last_rotate: Instant::now(),
            wall_base: (realtime_ns(), 0),
            shadow,
            warm,
            warm_wire: Vec::with_capacity(8 * 1024),
            warm_every_ns: u64::try_from(cfg.warm_every.as_nanos()).unwrap_or(u64::MAX),
            last_warm: origin,
            warm_turn: 0,
        })
    }

    /// Queues actions decided before the stage started (start-up adoption).
    /// Any the queue cannot take are handed back to the manager.
    pub fn preload(&mut self, actions: &[Action]) {
        for chunk in actions.chunks(ACTION_CAP) {
            Self::enqueue(&mut self.queue, &mut self.queued, &mut self.lost, chunk);
            self.hand_back_lost();
        }
    }

    /// The order manager (for reports after the stage stopped).
    pub fn oms(&self) -> &Oms {
        &self.oms
    }

    #[inline]
    fn now_ns(&self) -> u64 {
        self.clock.delta_ns(self.origin, self.clock.stamp())
    }

    /// Wall-clock ms for a request's timestamp: the last poll's
    /// `CLOCK_REALTIME` reading advanced by the TSC since (microseconds ago
    /// on a busy-polling thread; Bybit checks it against a recv_window of
    /// seconds).
    fn request_ts(&self) -> ExchMs {
        let (real_ns, at_ns) = self.wall_base;
        let elapsed = self.now_ns().saturating_sub(at_ns);
        let ns = u64::try_from(real_ns).unwrap_or(0).saturating_add(elapsed);
        ExchMs(ns / 1_000_000)
    }

    /// Appends `actions` (one manager call's output, at most
    /// [`ACTION_CAP`]) to the queue; those that do not fit go to `lost`,
    /// which the caller must hand back to the manager ([`hand_back`]).
    /// `lost` is the stage's own buffer: nothing the size of it is built or
    /// copied on each call (it was, 3.4 KB per call, on the reaction path).
    fn enqueue(
        queue: &mut [Option<Action>; QUEUE],
        queued: &mut usize,
        lost: &mut Overflow,
        actions: &[Action],
    ) {
        for a in actions {
            if let Some(slot) = queue.get_mut(*queued) {
                *slot = Some(*a);
                *queued += 1;
            } else if let Some(l) = lost.acts.get_mut(lost.n) {
                *l = Some(*a);
                lost.n += 1;
            }
        }
    }

    /// The trade link (or, over REST, the order connection) is gone: order
    /// requests still queued never left, so they go back to the manager
    /// (undone, decided again) before it learns of the loss — sent after a
    /// reconnect, they would race what the manager decides by then (a
    /// create it took for gone, a second order on a side). Cancel-alls and
    /// queries use the control connection and stay queued.
    fn trade_down(&mut self, now: u64) {
        let mut w = 0;
        for r in 0..self.queued.min(QUEUE) {
            let Some(a) = self.queue[r].take() else {
                continue;
            };
            if matches!(a, Action::CancelAll | Action::QueryOpenOrders) {
                self.queue[w] = Some(a);
                w += 1;
            } else {
                self.oms.on_unsent(&a, now);
                inc(&self.board.orders.unsent);
            }
        }
        self.queued = w;
        self.trade_authed = false;
        let acts = self.oms.on_disconnect(Link::Trade, now);
        Self::enqueue(&mut self.queue, &mut self.queued, &mut self.lost, acts);
        self.hand_back_lost();
    }

    /// The REST order connection failed (or its answer never came): it is
    /// dropped with any request in flight, whose outcome is unknown; the
    /// loss is handled as a trade link's ([`Self::trade_down`]), and since
    /// each REST request connects anew, the link is usable again at once.
    fn rest_down(&mut self, now: u64) {
        self.rest.abandon();
        self.rest_inflight = None;
        self.trade_down(now);
        let acts = self.oms.on_reconnected(Link::Trade, now);
        Self::enqueue(&mut self.queue, &mut self.queued, &mut self.lost, acts);
        self.hand_back_lost();
    }

    /// [`hand_back`] of the stage's own overflow to its manager.
    fn hand_back_lost(&mut self) {
        if self.lost.n > 0 {
            let now = self.now_ns();
            hand_back(&mut self.oms, &self.board, &mut self.lost, now);
        }
    }

    fn next_req_id(&mut self, u: UpdateId) -> ReqId {
        self.req_seq += 1;
        self.req_id_for(self.req_seq, u)
    }

    fn req_id_for(&self, seq: u64, u: UpdateId) -> ReqId {
        let mut r = ReqId::default();
        // `<run prefix>-r<seq>-<u>`: unique, ≤ 36 chars, and the trailing
        // `-u` lets the simulator attribute the request to its market message.
        let _ = r.push(self.oms.run_prefix().as_bytes());
        let _ = r.push(b"-r");
        let _ = r.push_u64(seq);
        let _ = r.push(b"-");
        if r.push_u64(u.0).is_err() {
            let _ = r.push(b"0");
        }
        r
    }

    fn remember(&mut self, p: Pending) {
        self.pending.remember(p);
    }

    fn take_pending(&mut self, req_id: &ReqId) -> Option<Pending> {
        self.pending.take(req_id)
    }

    /// Sends every queued action (as far as the transport allows now).
    fn dispatch(&mut self) {
        let mut i = 0;
        while i < self.queued {
            let Some(a) = self.queue[i] else {
                i += 1;
                continue;
            };
            if !self.send(a) {
                break;
            }
            self.queue[i] = None;
            i += 1;
        }
        // Compact what could not be sent yet.
        let mut w = 0;
        for r in 0..self.queued {
            if let Some(a) = self.queue[r].take() {
                self.queue[w] = Some(a);
                w += 1;
            }
        }
        self.queued = w;
    }

    /// Sends one action; false when the transport cannot take it now.
    fn send(&mut self, a: Action) -> bool {
        self.transmit(a, false)
    }

    /// Sends one action, or with `rehearsal` runs the same code to the
    /// private loopback link instead ([`Self::rehearse`]): no state, counter
    /// or hop of the live path changes then.
    fn transmit(&mut self, a: Action, rehearsal: bool) -> bool {
        match a {
            Action::CancelAll | Action::QueryOpenOrders if rehearsal => return true,
            Action::CancelAll => {
                self.cancel_all_blocking();
                return true;
            }
            Action::QueryOpenOrders => {
                self.send_query();
                return true;
            }
            _ => {}
        }
        let (u, sides, op, ep, links, n) = match a {
            Action::Create {
                side,
                link_id,
                trigger_u,
                ..
            } => (
                trigger_u,
                [Some(side), None],
                AckOp::Create,
                Ep::Create,
                [link_id, OrderLinkId::default()],
                1,
            ),
            Action::Amend { req, trigger_u } => (
                trigger_u,
                [Some(req.side), None],
                AckOp::Amend,
                Ep::Amend,
                [req.order.link_id, OrderLinkId::default()],
                1,
            ),
            Action::AmendBatch { reqs, trigger_u } => (
                trigger_u,
                [Some(reqs[0].side), Some(reqs[1].side)],
                AckOp::Amend,
                Ep::AmendBatch,
                [reqs[0].order.link_id, reqs[1].order.link_id],
                2,
            ),
            Action::Cancel {
                side,
                order,
                trigger_u,
            } => (
                trigger_u,
                [Some(side), None],
                AckOp::Cancel,
                Ep::Cancel,
                [order.link_id, OrderLinkId::default()],
                1,
            ),
            Action::CancelAll | Action::QueryOpenOrders => return true,
        };
        let ts = self.request_ts();
        let t_encoded: Tsc;
        let mut written_real_ns = 0i64;
        let ok = match self.transport {
            OrderTransport::Ws => {
                let ready = if rehearsal {
                    self.warm.is_some()
                } else {
                    self.trade.as_ref().map(|t| t.is_open()).unwrap_or(false) && self.trade_authed
                };
                if !ready {
                    return false;
                }
                // A create's reqId is its orderLinkId (already unique and `-u` tagged).
                // The reqId's trailing `-u` names the market message this
                // request reacts to (the simulator measures wire-to-wire time
                // from it). Only a request sent in the same poll as its target
                // is such a reaction; one the manager held back or sent for
                // another reason (a fill, a PostOnly re-place) is tagged `-0`.
                let reaction = self.fresh && self.current.is_some_and(|q| q.u == u);
                let req_id = match a {
                    Action::Create { link_id, .. } if reaction || rehearsal => {
                        ReqId::new(link_id.as_bytes()).unwrap_or_default()
                    }
                    _ if rehearsal => self.req_id_for(self.req_seq + 1, u),
                    _ => self.next_req_id(if reaction { u } else { UpdateId(0) }),
                };
                let buf = if rehearsal {
                    &mut self.warm_wire
                } else {
                    &mut self.wire
                };
                let Some(r) = encode_ws(&self.trade_codec, buf, &a, &req_id, ts, &self.inst) else {
                    return true;
                };
                if rehearsal {
                    if let (Ok(()), Some(w)) = (r, self.warm.as_mut()) {
                        if w.send(&self.warm_wire).is_err() {
                            // The private link broke (it never should): stop rehearsing.
                            self.warm = None;
                        }
                    }
                    return true;
                }
                if r.is_err() {
                    inc(&self.board.orders.rejects);
                    return true;
                }
                let Some(trade) = self.trade.as_mut() else {
                    return false;
                };
                t_encoded = self.clock.stamp();
                if let Err(e) = trade.ws().send_text(&self.wire) {
                    let _ = trade.lost(e, Instant::now());
                    let now = self.clock.delta_ns(self.origin, self.clock.stamp());
                    self.trade_down(now);
                    return false;
                }
                let t = self.clock.stamp();
                // Read together with `t`, so a stall after the write cannot come
                // between them (the transmit stamp is compared with this one).
                written_real_ns = realtime_ns();
                self.remember(Pending {
                    req_id,
                    op,
                    ep,
                    links,
                    n,
                    t_written: t,
                });
                Some(t)
            }
            OrderTransport::Rest => {
                if rehearsal || self.rest_inflight.is_some() || self.rest.in_flight() {
                    return false;
                }
                let inst = self.inst;
                // On the simulator, every order request carries the reaction
                // tag in a header: `-u` for a reaction to market message u,
                // `-0` otherwise (a create's orderLinkId names the tick it
                // was decided on, which may be long before it is sent).
                if self.tag_rest {
                    let reaction = self.fresh && self.current.is_some_and(|q| q.u == u);
                    let tag = self.next_req_id(if reaction { u } else { UpdateId(0) });
                    let _ = self.rest_codec.set_tag(tag.as_bytes());
                }
                let r = match a {
                    Action::Create {
                        side,
                        price,
                        qty,
                        link_id,
                        ..
                    } => self.rest_codec.create_order(
                        &mut self.wire,
                        ts,
                        &inst,
                        &NewOrder::post_only(side, price, qty, link_id),
                    ),
                    Action::Amend { req, .. } => {
                        self.rest_codec
                            .amend_order(&mut self.wire, ts, &inst, &wire_amend(&req))
                    }
                    Action::AmendBatch { reqs, .. } => self.rest_codec.amend_batch(
                        &mut self.wire,
                        ts,
                        &inst,
                        &[wire_amend(&reqs[0]), wire_amend(&reqs[1])],
                    ),
                    Action::Cancel { order, .. } => {
                        self.rest_codec
                            .cancel_order(&mut self.wire, ts, &inst, &wire_ref(&order))
                    }
                    _ => return true,
                };
                if self.tag_rest {
                    // Only this request: control calls go untagged.
                    let _ = self.rest_codec.set_tag(b"");
                }
                if r.is_err() {
                    inc(&self.board.orders.rejects);
                    return true;
                }
                t_encoded = self.clock.stamp();
                if self.rest.send(&self.wire).is_err() {
                    // The order connection failed: as for a lost trade link,
                    // queued requests go back to the manager rather than out
                    // on the next connection.
                    let now = self.clock.delta_ns(self.origin, self.clock.stamp());
                    self.rest_down(now);
                    return false;
                }
                let t = self.clock.stamp();
                self.rest_inflight = Some(Pending {
                    req_id: ReqId::default(),
                    op,
                    ep,
                    links,
                    n,
                    t_written: t,
                });
                Some(t)
            }
        };
        if let Some(t) = ok {
            inc(&self.board.orders.actions);
            if self.held == Some(u) {
                self.held = None;
                inc(&self.board.orders.held);
            }
            for s in sides.into_iter().flatten() {
                self.awaiting[side_ix(s)] = Some(t);
            }
            if let (Some(q), true) = (self.current, self.fresh && self.first_unsent) {
                if q.u == u {
                    self.first_unsent = false;
                    let read_to_written_ns = self.clock.delta_ns(q.t_read, t);
                    self.rec
                        .record(Hop::Encode, self.clock.delta_ns(q.t_quoted, t_encoded));
                    self.rec
                        .record(Hop::Write, self.clock.delta_ns(t_encoded, t));
                    self.rec.record(Hop::TickToWire, read_to_written_ns);
                    let key = self.trade.as_mut().and_then(|c| c.ws().tx_key());
                    if let Some(key) = key {
                        self.await_tx(TxWait {
                            key,
                            read_to_written_ns,
                            written_real_ns,
                        });
                    }
                }
            }
        }
        true
    }

    /// Rehearses a reaction while idle: the manager's decision on a copy of
    /// its state, then [`Self::transmit`] — request id, encoding, framing —
    /// with a `write` to the private loopback link: the code a real order
    /// runs, kept warm. The live manager, connections and counters are not
    /// touched.
    fn rehearse(&mut self) {
        if self.warm.is_none() {
            return;
        }
        let t0 = self.clock.stamp();
        if self.clock.delta_ns(self.last_warm, t0) < self.warm_every_ns {
            return;
        }
        self.last_warm = t0;
        self.redirty();
        let (Some(q), Some(touch)) = (self.current, self.touch) else {
            return;
        };
        self.shadow.copy_for_rehearsal(&self.oms);
        // A price change the manager acts on, one tick wider. Real reactions
        // move one side (a single `order.amend`) about as often as both (an
        // `order.amend-batch`); each shape has its own encoder, so the turns
        // rotate: both sides, the bid alone, the ask alone.
        self.warm_turn = (self.warm_turn + 1) % 3;
        let (move_bid, move_ask) = match self.warm_turn {
            0 => (true, true),
            1 => (true, false),
            _ => (false, true),
        };
        let target = Target {
            bid: q
                .bid
                .map(|p| Ticks(p.0.saturating_sub(i64::from(move_bid)))),
            ask: q
                .ask
                .map(|p| Ticks(p.0.saturating_add(i64::from(move_ask)))),
            qty: self.qty,
            touch,
            trigger_u: q.u,
            now: self.clock.delta_ns(self.origin, t0),
        };
        let side = if q.bid.is_some() {
            Side::Buy
        } else {
            Side::Sell
        };
        let price = q.bid.or(q.ask).unwrap_or(touch.0);
        let fallback = Action::Create {
            side,
            price,
            qty: self.qty,
            link_id: OrderLinkId::default(),
            trigger_u: q.u,
        };
        let a = match self.shadow.on_target(&target) {
            Ok(acts) => acts.first().copied().unwrap_or(fallback),
            Err(_) => fallback,
        };
        self.transmit(a, true);
    }

    /// Writes back, unchanged, every page a live reaction writes before its
    /// request is on the wire — the manager's state, the action queue, the
    /// request buffer, the trade connection's frame buffer — so that a host's
    /// write-protection of one of them is paid now, while idle
    /// ([`crate::redirty`]).
    fn redirty(&mut self) {
        use crate::redirty::{rewrite, rewrite_buf, rewrite_pages};
        self.oms.redirty();
        rewrite_pages(&mut self.queue);
        rewrite(&mut self.queued);
        rewrite(&mut self.req_seq);
        rewrite(&mut self.pending.next);
        rewrite(&mut self.current);
        rewrite(&mut self.touch);
        rewrite(&mut self.held);
        rewrite(&mut self.awaiting);
        rewrite(&mut self.first_unsent);
        rewrite_buf(&mut self.wire, 4096);
        if let Some(t) = self.trade.as_mut() {
            t.ws().redirty();
        }
        // The targets ring's read and write positions: an empty read
        // committed stores the read position back unchanged (the strategy
        // stage keeps the ring's slots written, `Latest::redirty`).
        if let Ok(c) = self.targets.read_chunk(0) {
            c.commit_all();
        }
    }

    fn await_tx(&mut self, w: TxWait) {
        match self.tx_waits.iter_mut().find(|s| s.is_none()) {
            Some(s) => *s = Some(w),
            None => {
                // A stamp that never came must not block the table.
                self.tx_waits.rotate_left(1);
                if let Some(last) = self.tx_waits.last_mut() {
                    *last = Some(w);
                }
            }
        }
    }

    /// Reads the trade socket's transmit stamps and records `tick_to_tx` for
    /// the reactions they belong to. Returns whether the socket has failed.
    fn read_tx_stamps(&mut self) -> bool {
        let Some(trade) = self.trade.as_mut() else {
            return false;
        };
        let OrderStage {
            tx_waits,
            rec,
            board,
            ..
        } = self;
        let ws = trade.ws();
        let _ = ws.drain_tx_timestamps(|st| {
            for w in tx_waits.iter_mut() {
                if let Some(x) = w.filter(|x| x.key == st.key) {
                    *w = None;
                    match tick_to_tx(&x, st.realtime_ns) {
                        Some(ns) => rec.record(Hop::TickToTx, ns),
                        None => inc(&board.orders.tx_implausible),
                    }
                }
            }
        });
        ws.socket_failed()
    }

    fn ack(&mut self, p: &Pending, link: OrderLinkId, order_id: OrderId, ret_code: i64, now: u64) {
        if ret_code != 0 {
            inc(&self.board.orders.rejects);
        }
        let acts = self.oms.on_ack(
            &AckEvent {
                op: p.op,
                link_id: link,
                order_id,
                ret_code,
            },
            now,
        );
        Self::enqueue(&mut self.queue, &mut self.queued, &mut self.lost, acts);
        self.hand_back_lost();
    }

    fn rate_limit(
        &mut self,
        ep: Ep,
        rl: &crate::codec::rest::RateLimitInfo,
        time_now: Option<ExchMs>,
        now: u64,
    ) {
        if let (Some(limit), Some(remaining)) = (rl.limit, rl.remaining) {
            set(&self.board.orders.budget_exchange, i64::from(remaining));
            self.board.orders.budget_exchange_seen.store(true, Relaxed);
            self.oms.on_rate_limit(
                &RateLimitInfo {
                    endpoint: ep,
                    limit,
                    remaining,
                    reset_ms: rl.reset.unwrap_or(ExchMs(0)),
                    now_ms: time_now.unwrap_or_else(wall_ms),
                },
                now,
            );
        }
    }

    fn read_trade(&mut self) {
        let Some(trade) = self.trade.as_mut() else {
            return;
        };
        let r = drain_into(trade.ws(), &mut self.rx, &mut self.frames);
        if let Err(e) = r {
            let _ = trade.lost(e, Instant::now());
            let now = self.now_ns();
            self.trade_down(now);
        }
        for k in 0..self.frames.len() {
            let (off, len) = self.frames[k];
            let t_ack = self.clock.stamp();
            let now = self.now_ns();
            let mut buf = std::mem::take(&mut self.rx);
            let res = self.trade_dec.decode(&mut buf[off..off + len]).map(|r| {
                (
                    r.op,
                    r.req_id,
                    r.ret_code,
                    r.ack,
                    r.rate_limit,
                    r.time_now,
                    r.needs_new_connection(),
                    {
                        let mut items = [(OrderLinkId::default(), OrderId::default(), 0i64); 2];
                        for (i, it) in r.batch.iter().take(2).enumerate() {
                            items[i] = (it.order_link_id, it.order_id, it.code);
                        }
                        (items, r.batch.len().min(2))
                    },
                )
            });
            self.rx = buf;
            let Ok((op, req_id, ret_code, ack, rl, time_now, reconnect, (items, nitems))) = res
            else {
                continue;
            };
            match op {
                TradeOp::Auth => {
                    if ret_code == 0 {
                        self.trade_authed = true;
                        if let Some(t) = self.trade.as_mut() {
                            t.proven();
                        }
                        let acts = self.oms.on_reconnected(Link::Trade, now);
                        Self::enqueue(&mut self.queue, &mut self.queued, &mut self.lost, acts);
                        self.hand_back_lost();
                    } else {
                        // Retrying a refused key cannot succeed: stop.
                        Fatal::TradeAuth.record(&self.board.orders);
                        self.shutdown_req.store(true, Relaxed);
                    }
                }
                TradeOp::Pong | TradeOp::Other => {}
                _ => {
                    let Some(p) = self.take_pending(&req_id) else {
                        continue;
                    };
                    self.rec
                        .record(Hop::Ack, self.clock.delta_ns(p.t_written, t_ack));
                    self.rate_limit(p.ep, &rl, time_now, now);
                    if nitems > 0 {
                        for &(link, oid, code) in &items[..nitems] {
                            self.ack(&p, link, oid, code, now);
                        }
                    } else {
                        let (link, oid) = ack
                            .map(|a| (a.order_link_id, a.order_id))
                            .unwrap_or((p.links[0], OrderId::default()));
                        let link = if link.is_empty() { p.links[0] } else { link };
                        // A failed batch envelope answers every item alike.
                        for k in 0..usize::from(p.n) {
                            let l = if k == 0 { link } else { p.links[k] };
                            self.ack(&p, l, oid, ret_code, now);
                        }
                    }
                }
            }
            if reconnect {
                // The exchange asks for a new connection (10019): the link is
                // as good as lost, and the manager must know it.
                if let Some(t) = self.trade.as_mut().filter(|t| t.is_open()) {
                    let _ = t.lost(crate::net::NetError::Closed { code: 1012 }, Instant::now());
                    self.trade_down(now);
                }
            }
        }
    }

    fn read_private(&mut self) {
        let r = drain_into(self.private.ws(), &mut self.rx, &mut self.frames);
        if let Err(e) = r {
            let _ = self.private.lost(e, Instant::now());
            self.private_ready = false;
            let now = self.now_ns();
            let acts = self.oms.on_disconnect(Link::Private, now);
            Self::enqueue(&mut self.queue, &mut self.queued, &mut self.lost, acts);
            self.hand_back_lost();
        }
        for k in 0..self.frames.len() {
            let (off, len) = self.frames[k];
            let t_in = self.clock.stamp();
            let now = self.now_ns();
            let mut buf = std::mem::take(&mut self.rx);
            let OrderStage {
                priv_dec,
                oms,
                queue,
                queued,
                lost,
                board,
                rec,
                clock,
                awaiting,
                private,
                private_ready,
                wire,
                inst,
                shutdown_req,
                ..
            } = self;
            match priv_dec.decode(&mut buf[off..off + len]) {
                Ok(PrivateEvent::Auth(reply)) if reply.success => {
                    let topics: [&str; 5] =
                        ["order", "execution", "execution.fast", "wallet", "position"];
                    // `position` exists for derivatives only.
                    let n = if inst.category == crate::ids::Category::Linear {
                        5
                    } else {
                        4
                    };
                    if write_subscribe(wire, &topics[..n], None).is_ok() {
                        if let Err(e) = private.ws().send_text(wire) {
                            let _ = private.lost(e, Instant::now());
                        }
                    }
                }
                Ok(PrivateEvent::Auth(_)) => {
                    Fatal::PrivateAuth.record(&board.orders);
                    shutdown_req.store(true, Relaxed);
                }
                Ok(PrivateEvent::Subscribed(reply)) if !reply.success => {
                    // Without the order and execution pushes every fill
                    // would be missed: stop, with a confirmed cancel-all.
                    Fatal::PrivateSubscribe.record(&board.orders);
                    shutdown_req.store(true, Relaxed);
                }
                Ok(PrivateEvent::Subscribed(_)) => {
                    *private_ready = true;
                    private.proven();
                    let acts = oms.on_reconnected(Link::Private, now);
                    Self::enqueue(queue, queued, lost, acts);
                    hand_back(oms, board, lost, now);
                }
                Ok(PrivateEvent::Orders(push)) => {
                    for o in push.records {
                        let ev = order_event(o);
                        if ev.reject_reason == RejectReason::PostOnlyWillTakeLiquidity {
                            inc(&board.orders.post_only_replaced);
                        }
                        if crate::oms::is_ours(&ev.link_id) {
                            if let Some(t) = awaiting[side_ix(ev.side)].take() {
                                rec.record(Hop::Confirm, clock.delta_ns(t, t_in));
                            }
                        }
                        if let Ok(acts) = oms.on_order_update(&ev, now) {
                            Self::enqueue(queue, queued, lost, acts);
                            hand_back(oms, board, lost, now);
                        }
                    }
                }
                Ok(PrivateEvent::Executions(push)) => {
                    for x in push.records {
                        let Some(fill) = fill_of(x) else {
                            continue; // funding / settlement are not fills
                        };
                        let before = oms.pnl().fills;
                        if let Ok(acts) = oms.on_fill(&fill, now) {
                            Self::enqueue(queue, queued, lost, acts);
                            hand_back(oms, board, lost, now);
                        }
                        if oms.pnl().fills != before {
                            inc(&board.orders.fills);
                            let lag_ms = wall_ms().0.saturating_sub(x.exec_time.0);
                            rec.record(Hop::FillLag, lag_ms.saturating_mul(1_000_000));
                        }
                    }
                }
                _ => {}
            }
            self.rx = buf;
        }
    }

    fn read_rest(&mut self) {
        let Some(p) = self.rest_inflight else {
            // Nothing outstanding: still drain so a server close is noticed.
            let _ = self.rest.poll_response();
            return;
        };
        let t = self.clock.stamp();
        let now = self.now_ns();
        let res = match self.rest.poll_response() {
            Ok(Some(resp)) => {
                self.rx.clear();
                self.rx.extend_from_slice(resp.body);
                Some((resp.meta.rate_limit, resp.status))
            }
            Ok(None) if self.clock.delta_ns(p.t_written, t) < REST_ANSWER_TIMEOUT_NS => None,
            Ok(None) | Err(_) => {
                // Lost, or unanswered for too long (a stalled gateway, a
                // half-open connection): every later request would wait
                // behind it. The connection is dropped; the request may or
                // may not have executed, so the manager treats it as
                // unknown and queries.
                self.rest_down(now);
                return;
            }
        };
        let Some((rl, _status)) = res else { return };
        self.rest_inflight = None;
        self.rec
            .record(Hop::Ack, self.clock.delta_ns(p.t_written, t));
        self.rate_limit(p.ep, &rl, None, now);
        let mut buf = std::mem::take(&mut self.rx);
        if p.n == 2 {
            let mut items = [(OrderLinkId::default(), OrderId::default(), 0i64); 2];
            let mut k = 0;
            match self.rest_dec.decode_batch(&mut buf) {
                Ok(list) => {
                    for it in list.iter().take(2) {
                        items[k] = (it.order_link_id, it.order_id, it.code);
                        k += 1;
                    }
                }
                Err(crate::codec::rest::RestError::Api { code, .. }) => {
                    items = [
                        (p.links[0], OrderId::default(), code),
                        (p.links[1], OrderId::default(), code),
                    ];
                    k = 2;
                }
                Err(_) => {}
            }
            self.rx = buf;
            for &(l, o, c) in &items[..k] {
                self.ack(&p, l, o, c, now);
            }
        } else {
            let r = self.rest_dec.decode_ack(&mut buf);
            self.rx = buf;
            match r {
                Ok(a) => {
                    let l = if a.order_link_id.is_empty() {
                        p.links[0]
                    } else {
                        a.order_link_id
                    };
                    self.ack(&p, l, a.order_id, 0, now);
                }
                Err(crate::codec::rest::RestError::Api { code, .. }) => {
                    self.ack(&p, p.links[0], OrderId::default(), code, now)
                }
                Err(_) => {}
            }
        }
    }

    /// A WebSocket whose peer closed gets no more data, but with
    /// edge-triggered readiness the EOF can arrive in the same event as the
    /// last frames, and a read that stopped short of it is never woken again:
    /// the connection would look open forever. Declare it lost instead.
    fn close_dead(&mut self, trade_closed: bool, private_closed: bool) {
        let wall = Instant::now();
        let now = self.now_ns();
        if trade_closed {
            if let Some(t) = self.trade.as_mut().filter(|t| t.is_open()) {
                let _ = t.lost(crate::net::NetError::Closed { code: 1006 }, wall);
                self.trade_down(now);
            }
        }
        if private_closed && self.private.is_open() {
            let _ = self
                .private
                .lost(crate::net::NetError::Closed { code: 1006 }, wall);
            self.private_ready = false;
            let acts = self.oms.on_disconnect(Link::Private, now);
            Self::enqueue(&mut self.queue, &mut self.queued, &mut self.lost, acts);
            self.hand_back_lost();
        }
    }

    /// Sends the open-order query the manager asked for on the control
    /// connection and returns at once; [`Self::read_control`] hands the
    /// answer back. While fills may have been missed ([`Self::fill_gap`]:
    /// start-up, or the private stream was lost), the query first reads the
    /// execution list from there and counts what the stream did not deliver
    /// (the manager holds creates and amends meanwhile, as for any query).
    /// A query still unanswered is dropped with its connection (the manager
    /// asks again only after its query timeout, so the old one has had its
    /// time). No allocation once `query_wire` has its size; the execution
    /// pages' decoding allocates (a rare path, quoting held).
    fn send_query(&mut self) {
        // Taken now, when the query goes, never earlier (see `Oms::query_ticket`).
        let Some(ticket) = self.oms.query_ticket() else {
            // Given up by the manager since it asked: nothing to send.
            return;
        };
        let now = self.now_ns();
        if let Some(q) = self.query.as_mut().filter(|q| {
            matches!(q.phase, QueryPhase::Fills(_))
                && now.saturating_sub(q.sent_ns) < FILL_PAGE_WAIT_NS
        }) {
            // A catch-up still answering page by page: it goes on, and its
            // open-order list (read after it, so later than this query) is
            // this query's answer.
            q.ticket = ticket;
            return;
        }
        self.drop_query();
        self.query_events.clear();
        self.gap_fills.clear();
        let phase = match self.fill_gap {
            Some(from) => QueryPhase::Fills(from),
            None => QueryPhase::Orders,
        };
        if !self.send_query_page(ticket, phase, 1, None) {
            // The manager asks again after its query timeout.
            self.query_failed(phase);
        }
    }

    /// Counts a failed query; a catch-up failing [`FILL_TRIES`] times in a
    /// row stops the engine (cancel-all, confirmed): its position is unknown.
    fn query_failed(&mut self, phase: QueryPhase) {
        inc(&self.board.orders.query_failures);
        if let QueryPhase::Fills(_) = phase {
            self.fill_failures = self.fill_failures.saturating_add(1);
            if self.fill_failures >= FILL_TRIES {
                Fatal::FillCatchUp.record(&self.board.orders);
                self.shutdown_req.store(true, Relaxed);
            }
        }
    }

    /// Sends one page request of the query's `phase`; `false` if it could
    /// not go.
    fn send_query_page(
        &mut self,
        ticket: QueryTicket,
        phase: QueryPhase,
        pages: u8,
        cursor: Option<&str>,
    ) -> bool {
        let ts = wall_ms();
        let r = match phase {
            QueryPhase::Fills(from) => self.rest_codec.execution_list(
                &mut self.query_wire,
                ts,
                &self.inst,
                Some(from),
                cursor,
            ),
            QueryPhase::Orders => {
                self.rest_codec
                    .order_realtime(&mut self.query_wire, ts, &self.inst, true, cursor)
            }
        };
        if r.is_ok() && self.control.send(&self.query_wire).is_ok() {
            self.query = Some(QueryInFlight {
                ticket,
                pages,
                phase,
                sent_ns: self.now_ns(),
            });
            true
        } else {
            false
        }
    }

    /// Drops the query in flight on the control connection, if any, with the
    /// connection: its answer is never read.
    fn drop_query(&mut self) {
        if self.query.take().is_some() || self.control.in_flight() {
            self.control.abandon();
        }
    }

    /// Reads the control connection: the open-order answer, once complete,
    /// goes to the manager with its query's ticket. Without a query in flight
    /// it only notices a server close (the connection is replaced).
    fn read_control(&mut self) {
        let Some(q) = self.query else {
            let _ = self.control.poll_response();
            return;
        };
        match self.control.poll_response() {
            Ok(Some(resp)) => {
                self.rx.clear();
                self.rx.extend_from_slice(resp.body);
            }
            Ok(None) => return,
            Err(_) => {
                // Lost with the connection: the manager asks again after its
                // query timeout.
                self.query = None;
                self.query_failed(q.phase);
                return;
            }
        }
        self.query = None;
        if let QueryPhase::Fills(window) = q.phase {
            self.read_fills_page(q, window);
            return;
        }
        let mut buf = std::mem::take(&mut self.rx);
        let page = self.rest_dec.decode_orders(&mut buf, &self.inst);
        self.rx = buf;
        let Ok(page) = page else {
            inc(&self.board.orders.query_failures);
            return;
        };
        self.query_events
            .extend(page.orders.iter().map(order_event));
        let rows = page.orders.len() + page.skipped;
        if let Some(cursor) = next_page(rows, page.next_cursor.as_deref()) {
            // More pages: the answer is the whole list, never a part of it
            // (an order of ours on a later page would be taken for gone).
            if q.pages < QUERY_PAGES {
                // The cursor lives in the decoded page; the request copies it.
                let cursor = cursor.to_owned();
                if self.send_query_page(q.ticket, QueryPhase::Orders, q.pages + 1, Some(&cursor)) {
                    return;
                }
            }
            inc(&self.board.orders.query_failures);
            return;
        }
        let now = self.now_ns();
        let acts = self
            .oms
            .on_query_answer(q.ticket, &self.query_events, wall_ms(), now);
        Self::enqueue(&mut self.queue, &mut self.queued, &mut self.lost, acts);
        self.hand_back_lost();
    }

    /// One execution-list page of a query's catch-up (in `self.rx`): the
    /// fills are kept; once the list is read to now, they go
    /// to the manager oldest first (it drops those the stream or the
    /// journal counted already, by execution id), the gap is closed, and the
    /// query goes on with the open orders. A failure leaves the gap open for
    /// the next query.
    fn read_fills_page(&mut self, q: QueryInFlight, window: ExchMs) {
        use crate::codec::rest::{EXECUTION_PAGE, EXECUTION_SPAN_MS};
        let mut buf = std::mem::take(&mut self.rx);
        let page = self.rest_dec.decode_executions(&mut buf, &self.inst);
        self.rx = buf;
        let Ok(page) = page else {
            self.query_failed(q.phase);
            return;
        };
        // Every fill on the symbol, as the live stream counts them.
        self.gap_fills
            .extend(page.executions.iter().filter_map(fill_of));
        let rows = page.executions.len() + page.skipped;
        // A short page is the last whatever its cursor says.
        let next = page
            .next_cursor
            .as_deref()
            .filter(|c| rows >= EXECUTION_PAGE && !c.is_empty());
        let next_window = ExchMs(window.0.saturating_add(EXECUTION_SPAN_MS));
        let sent = match next {
            Some(_) if q.pages >= FILL_PAGES => false,
            Some(c) => {
                let c = c.to_owned();
                self.send_query_page(q.ticket, q.phase, q.pages + 1, Some(&c))
            }
            None => {
                // The window is read: count it and move the gap past it, so
                // a failure later starts from the next window, not anew.
                self.count_gap_fills();
                if next_window.0 <= wall_ms().0 {
                    self.fill_gap = Some(next_window);
                    self.send_query_page(q.ticket, QueryPhase::Fills(next_window), 1, None)
                } else {
                    // Read to now: the gap is closed; on with the orders.
                    self.fill_gap = None;
                    self.fill_failures = 0;
                    self.send_query_page(q.ticket, QueryPhase::Orders, 1, None)
                }
            }
        };
        if !sent {
            self.query_failed(q.phase);
        }
    }

    /// Passes the catch-up's fills to the manager, oldest first (it drops
    /// those already counted, by execution id), and counts the new ones.
    fn count_gap_fills(&mut self) {
        self.gap_fills.sort_by_key(|f| f.exec_time);
        let now = self.now_ns();
        let before = self.oms.pnl().fills;
        for i in 0..self.gap_fills.len() {
            let f = self.gap_fills[i];
            if let Ok(acts) = self.oms.on_fill(&f, now) {
                Self::enqueue(&mut self.queue, &mut self.queued, &mut self.lost, acts);
                self.hand_back_lost();
            }
        }
        let found = self.oms.pnl().fills.saturating_sub(before);
        for c in [&self.board.orders.gap_fills, &self.board.orders.fills] {
            c.store(c.load(Relaxed) + found, Relaxed);
        }
        self.gap_fills.clear();
    }

    /// Blocking cancel-all on the control connection (the manager's request;
    /// only when halted): any query in flight on it is dropped first, so its
    /// answer cannot be taken for the cancel-all's.
    fn cancel_all_blocking(&mut self) {
        self.drop_query();
        cancel_all_request(&mut self.control, &self.rest_codec, &self.inst);
    }

    fn run_shutdown(&mut self) {
        // Stop quoting, cancel everything of ours, and confirm with the exchange.
        self.queued = 0;
        let now = self.now_ns();
        let _ = self.oms.shutdown(now);
        // An open-order answer still on its way must not be read as the
        // cancel-all's (or the check's) answer.
        self.drop_query();
        let confirmed = cancel_all_confirmed(
            &mut self.control,
            &self.rest_codec,
            &mut self.rest_dec,
            &self.inst,
        );
        // Let the order stream report the cancels (and any fill in the
        // cancel window), so that the journal and the report end with the
        // exchange's word on every order of ours. Bounded: 1 s.
        let until = Instant::now() + Duration::from_secs(1);
        while self.private.is_open()
            && Instant::now() < until
            && [Side::Buy, Side::Sell]
                .iter()
                .any(|&s| self.oms.slot(s).is_live())
        {
            let _ = self
                .poll
                .poll(&mut self.events, Some(Duration::from_millis(20)));
            self.read_private();
        }
        self.drain_journal();
        if let Some(t) = self.trade.as_mut() {
            t.disable();
        }
        self.private.disable();
        self.board
            .orders
            .shutdown_confirmed
            .store(confirmed, Relaxed);
        self.board.orders.shutdown_done.store(true, Relaxed);
        self.shutdown = Shutdown::Done;
    }

    /// Moves as much of the manager's journal as the ring takes (a record
    /// may be split: the writer continues it in order).
    fn drain_journal(&mut self) {
        let j = self.oms.journal();
        let n = self.journal.slots().min(j.len());
        if n == 0 {
            return;
        }
        if let Ok(mut chunk) = self.journal.write_chunk(n) {
            let (a, b) = chunk.as_mut_slices();
            let k = a.len();
            a.copy_from_slice(&j[..k]);
            b.copy_from_slice(&j[k..n]);
            chunk.commit_all();
            self.oms.consume_journal(n);
        }
    }

    fn publish(&mut self) {
        let now = self.now_ns();
        if self
            .budget_published
            .is_none_or(|t| now.saturating_sub(t) >= BUDGET_PUBLISH_NS)
        {
            self.budget_published = Some(now);
            let left = self.oms.budget().order_remaining(now);
            set(&self.board.orders.budget_remaining, i64::from(left));
        }
        let b = &self.board.orders;
        b.journal_dropped
            .store(self.oms.stats().journal_dropped, Relaxed);
        let pos = self.oms.position();
        set(&b.position, pos.0);
        let pnl = self.oms.pnl();
        set(&b.realised, i64::try_from(pnl.realised).unwrap_or(i64::MAX));
        if let Some(q) = self.current {
            let u = pnl.unrealised_half_ticks(q.mid);
            set(&b.unrealised, i64::try_from(u / 2).unwrap_or(i64::MAX));
        }
        let price = |s: &crate::oms::OrderSlot| if s.is_live() { s.price.0 } else { 0 };
        let wb = price(self.oms.slot(Side::Buy));
        let wa = price(self.oms.slot(Side::Sell));
        set(&b.working_bid, wb);
        set(&b.working_ask, wa);
        if pos != self.last_position && self.positions.push(PositionNote { position: pos }).is_ok()
        {
            self.last_position = pos;
        }
        let own = own_orders(&self.oms);
        if own != self.own_sent {
            if let Some(p) = self.own_out.as_mut() {
                if p.push(own).is_ok() {
                    self.own_sent = own;
                }
            }
        }
    }

    /// Reports our resting orders to the feed stage, which takes them out of
    /// the book before the analytics.
    pub fn with_own_orders(mut self, own: rtrb::Producer<OwnOrders>) -> OrderStage {
        self.own_out = Some(own);
        self
    }
}

impl Stage for OrderStage {
    fn name(&self) -> &'static str {
        "orders"
    }

    fn poll(&mut self) -> bool {
        if self.shutdown == Shutdown::Done {
            return false;
        }
        if self.shutdown == Shutdown::Running && self.shutdown_req.load(Relaxed) {
            self.shutdown = Shutdown::Requested;
            self.run_shutdown();
            return true;
        }
        let mut worked = false;
        // Targets first, sent at once: connection upkeep and the manager's
        // timers come after, off the tick-to-wire path. Act on the newest only.
        let mut latest = None;
        while let Ok(t) = self.targets.pop() {
            latest = Some(t);
        }
        let now = self.now_ns();
        let arrived = latest.is_some();
        // A target recomputed for our own orders' sake is not a reaction.
        self.fresh = latest.is_some_and(|t| t.tick);
        self.first_unsent = self.fresh;
        if self.fresh {
            self.held = None;
        }
        if let Some(t) = latest {
            if t.touch_bid.0 > 0 && t.touch_ask.0 > t.touch_bid.0 {
                self.current = Some(t);
            }
            if let Some(acts) = decide(&mut self.oms, &t, &mut self.touch, self.qty, now) {
                Self::enqueue(&mut self.queue, &mut self.queued, &mut self.lost, acts);
                self.hand_back_lost();
            }
            worked = true;
        }
        if arrived && self.queued > 0 {
            self.dispatch();
        }
        if self.fresh && self.first_unsent {
            // The decision sent nothing: either nothing had to change, or the
            // manager holds the target (a side awaiting its confirmation, the
            // rate budget, the update interval) and sends it later.
            self.held = self.current.map(|q| q.u);
        }
        self.fresh = false;
        let wall = Instant::now();
        self.wall_base = (realtime_ns(), self.now_ns());
        // Connections. A `Failed` from `drive` while the link was open (dead
        // link: silent past its timeout, or the ping write failed) is a lost
        // link, handled like a read error on it.
        let mut trade_lost = false;
        if let Some(trade) = self.trade.as_mut() {
            let was_open = trade.is_open();
            let ev = trade.drive(wall);
            trade_lost = was_open && matches!(ev, ConnEvent::Failed(_));
            if let ConnEvent::Opened = ev {
                let mut auth = Vec::new();
                self.trade_codec
                    .write_auth(&mut auth, ExchMs(wall_ms().0 + 10_000), None);
                if let Err(e) = trade.ws().send_text(&auth) {
                    let _ = trade.lost(e, wall);
                }
            }
        }
        if trade_lost {
            let now = self.now_ns();
            self.trade_down(now);
        }
        let was_open = self.private.is_open();
        let ev = self.private.drive(wall);
        if was_open && matches!(ev, ConnEvent::Failed(_)) {
            self.private_ready = false;
            let now = self.now_ns();
            let acts = self.oms.on_disconnect(Link::Private, now);
            Self::enqueue(&mut self.queue, &mut self.queued, &mut self.lost, acts);
            self.hand_back_lost();
        }
        if let ConnEvent::Opened = ev {
            let mut auth = Vec::new();
            write_auth_request(
                &mut auth,
                &self.creds.signer(),
                ExchMs(wall_ms().0 + 10_000),
                None,
            );
            if let Err(e) = self.private.ws().send_text(&auth) {
                let _ = self.private.lost(e, wall);
            }
        }
        if self.oms.is_halted() && !self.shutdown_req.load(Relaxed) {
            // The manager gave up following our orders; its own cancel-all
            // is sent once and not confirmed: the shutdown's is.
            Fatal::OrdersHalted.record(&self.board.orders);
            self.shutdown_req.store(true, Relaxed);
        }
        if self.fill_gap.is_none() && !self.private.is_open() {
            // However the private stream went (read error, close, failed
            // ping), its pushes since are lost: the next query reads them.
            let lost_at = self.request_ts().0;
            self.fill_gap = Some(ExchMs(lost_at.saturating_sub(FILL_GAP_MARGIN_MS)));
        }
        let reconnects = self.private.reconnects + self.trade.as_ref().map_or(0, |t| t.reconnects);
        self.board.orders.reconnects.store(reconnects, Relaxed);
        // Timers after the send: they are not on the tick-to-wire path.
        let now = self.now_ns();
        let acts = self.oms.on_tick(now);
        Self::enqueue(&mut self.queue, &mut self.queued, &mut self.lost, acts);
        self.hand_back_lost();
        if self.queued > 0 {
            self.dispatch();
        }
        // Responses and pushes.
        if self
            .poll
            .poll(&mut self.events, Some(Duration::ZERO))
            .is_ok()
            && !self.events.is_empty()
        {
            let (mut t, mut p, mut r, mut c) = (false, false, false, false);
            // Peer closed (EOF / reset) per WebSocket: see `close_dead` below.
            let (mut t_closed, mut p_closed, mut r_closed, mut c_closed) =
                (false, false, false, false);
            let mut stamps = false;
            for e in self.events.iter() {
                let closed = e.is_read_closed() || e.is_error();
                match e.token() {
                    TRADE => {
                        t = true;
                        // With transmit stamps on, EPOLLERR also means "a
                        // stamp is queued": only SO_ERROR says the link failed.
                        stamps |= e.is_error();
                        t_closed |= e.is_read_closed();
                    }
                    PRIVATE => {
                        p = true;
                        p_closed |= closed;
                    }
                    REST => {
                        r = true;
                        r_closed |= closed;
                    }
                    CONTROL => {
                        c = true;
                        c_closed |= closed;
                    }
                    _ => {}
                }
            }
            if stamps {
                t_closed |= self.read_tx_stamps();
            }
            if t && self.trade.as_ref().map(|c| c.is_open()).unwrap_or(false) {
                self.read_trade();
            }
            if p && self.private.is_open() {
                self.read_private();
            }
            if r_closed {
                self.rest.peer_closed();
            }
            if r || self.rest_inflight.is_some() {
                self.read_rest();
            }
            if c_closed {
                self.control.peer_closed();
            }
            if c || self.query.is_some() {
                self.read_control();
            }
            self.close_dead(t_closed, p_closed);
            worked = true;
        } else {
            if self.rest_inflight.is_some() {
                self.read_rest();
            }
            if self.query.is_some() {
                self.read_control();
            }
        }
        if self.queued > 0 {
            self.dispatch();
        }
        self.drain_journal();
        self.publish();
        if wall.duration_since(self.last_rotate) >= Duration::from_secs(1) {
            self.last_rotate = wall;
            self.rec.rotate(wall_ms().0);
        }
        if !worked {
            self.rehearse();
        }
        worked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(read_to_written_ns: u64, written_real_ns: i64) -> TxWait {
        TxWait {
            key: 1,
            read_to_written_ns,
            written_real_ns,
        }
    }

    /// An auto-deleveraging or liquidation fill changes the position as
    /// much as a trade does; funding and settlement do not.
    #[test]
    fn executions_that_move_the_position_are_fills() {
        use crate::codec::private::{ExecType, Execution};
        let x = |exec_type| Execution {
            fast: false,
            category: Some(crate::ids::Category::Linear),
            symbol: crate::ids::Symbol::new(b"BTCUSDT").unwrap(),
            exec_id: crate::ids::ExecId::new(b"e1").unwrap(),
            order_id: OrderId::default(),
            order_link_id: OrderLinkId::default(),
            side: Side::Sell,
            exec_price: Ticks(600_000),
            exec_qty: Lots(5),
            exec_type,
            exec_fee: None,
            fee_base_nlots: 0,
            fee_rate: None,
            is_maker: false,
            exec_time: ExchMs(1),
            leaves_qty: None,
            seq: crate::ids::Seq::default(),
        };
        for t in [ExecType::Trade, ExecType::AdlTrade, ExecType::BustTrade] {
            let f = fill_of(&x(t)).unwrap();
            assert_eq!(
                (f.side, f.qty, f.price),
                (Side::Sell, Lots(5), Ticks(600_000))
            );
        }
        for t in [ExecType::Funding, ExecType::Settle, ExecType::Other] {
            assert!(fill_of(&x(t)).is_none(), "{t:?}");
        }
    }

    fn pending(id: &str) -> Pending {
        Pending {
            req_id: ReqId::new(id.as_bytes()).unwrap(),
            op: AckOp::Create,
            ep: Ep::Create,
            links: [OrderLinkId::default(); 2],
            n: 1,
            t_written: Tsc::default(),
        }
    }

    /// A reaction's creates carry their link ids as request ids and take no
    /// request number: two written in a row (both sides at once) must both
    /// find their answers.
    #[test]
    fn every_written_request_finds_its_answer_until_the_ring_wraps() {
        let mut t = PendingTable::EMPTY;
        t.remember(pending("gm000001-1-5"));
        t.remember(pending("gm000001-2-5"));
        assert!(t.take(&ReqId::new(b"gm000001-1-5").unwrap()).is_some());
        assert!(t.take(&ReqId::new(b"gm000001-2-5").unwrap()).is_some());
        // Answered once: a repeat finds nothing.
        assert!(t.take(&ReqId::new(b"gm000001-2-5").unwrap()).is_none());
        // The ring keeps the newest PENDING requests.
        for i in 0..=PENDING {
            t.remember(pending(&format!("r{i}")));
        }
        assert!(t.take(&ReqId::new(b"r0").unwrap()).is_none());
        assert!(t.take(&ReqId::new(b"r1").unwrap()).is_some());
        let last = format!("r{PENDING}");
        assert!(t.take(&ReqId::new(last.as_bytes()).unwrap()).is_some());
    }

    #[test]
    fn only_a_full_page_with_a_cursor_has_a_next_page() {
        let c = Some("page_args%3Dfd43%26");
        assert_eq!(next_page(50, c), c);
        // The last page also carries a cursor.
        assert_eq!(next_page(1, c), None);
        assert_eq!(next_page(0, c), None);
        assert_eq!(next_page(50, Some("")), None);
        assert_eq!(next_page(50, None), None);
    }

    #[test]
    fn a_full_queue_hands_actions_back_and_the_manager_decides_them_again() {
        use crate::ids::Category;
        use crate::oms::OmsConfig;
        const MS: u64 = 1_000_000;
        let cfg = OmsConfig::new(Category::Linear, 7, Lots(100), Lots(1));
        let mut oms = Oms::new(cfg).unwrap();
        assert!(oms.adopt_open_orders(&[], 0).is_empty());
        let board = Board::default();
        // Nearly full of requests the transport cannot take yet.
        let mut queue = [None; QUEUE];
        for q in queue.iter_mut().take(QUEUE - 1) {
            *q = Some(Action::CancelAll);
        }
        let mut queued = QUEUE - 1;
        let t = Target {
            bid: Some(Ticks(100)),
            ask: Some(Ticks(105)),
            qty: Lots(1),
            touch: (Ticks(100), Ticks(105)),
            trigger_u: UpdateId(1),
            now: MS,
        };
        let acts = oms.on_target(&t).unwrap();
        assert_eq!(acts.len(), 2, "{acts:?}");
        let mut lost = Overflow::NONE;
        OrderStage::enqueue(&mut queue, &mut queued, &mut lost, acts);
        assert_eq!((queued, lost.n), (QUEUE, 1));
        hand_back(&mut oms, &board, &mut lost, MS);
        assert_eq!(lost.n, 0, "handed back");
        // The bid's create is queued; the ask's never left, and the manager
        // knows it: nothing of it is pending.
        assert!(matches!(
            queue[QUEUE - 1],
            Some(Action::Create {
                side: Side::Buy,
                ..
            })
        ));
        assert_eq!(oms.slot(Side::Buy).state, OrderState::PendingNew);
        assert_eq!(oms.slot(Side::Sell).state, OrderState::Empty);
        assert_eq!(board.orders.unsent.load(Relaxed), 1);
        assert_eq!(oms.stats().unsent, 1);
        // Once the queue has room, the next decision sends it.
        queued = 0;
        let acts = oms.on_tick(2 * MS);
        assert!(
            matches!(
                acts,
                [Action::Create {
                    side: Side::Sell,
                    ..
                }]
            ),
            "{acts:?}"
        );
        OrderStage::enqueue(&mut queue, &mut queued, &mut lost, acts);
        assert_eq!((queued, lost.n), (1, 0));
    }

    #[test]
    fn tick_to_tx_is_placed_between_frame_read_and_write_return() {
        // Written 20 µs after the read, stamped 15 µs before the write returned.
        assert_eq!(tick_to_tx(&wait(20_000, 1_000_000), 985_000), Some(5_000));
        // Stamped after the write returned (deferred transmit).
        assert_eq!(
            tick_to_tx(&wait(20_000, 1_000_000), 1_002_000),
            Some(22_000)
        );
        // A stamp from before the frame was read belongs to another request.
        assert_eq!(tick_to_tx(&wait(20_000, 1_000_000), 900_000), None);
        // Within the clocks' read jitter of the frame read.
        assert_eq!(tick_to_tx(&wait(20_000, 1_000_000), 979_500), Some(1));
    }
}

#[cfg(test)]
mod open_orders_error_tests {
    use super::*;
    use crate::codec::rest::ApiMsg;

    #[test]
    fn a_refusal_passes_the_exchange_words_on_and_names_the_keys() {
        let e = OpenOrdersError::Rest(RestError::Api {
            code: 10005,
            msg: ApiMsg::from_str("Permission denied, please check your API key permissions.")
                .unwrap(),
        });
        assert_eq!(
            e.to_string(),
            "the exchange refused: 10005 Permission denied, please check your API key permissions. (check BYBIT_API_KEY / BYBIT_API_SECRET and the key's permissions)"
        );
        let other = OpenOrdersError::Rest(RestError::Api {
            code: 10016,
            msg: ApiMsg::from_str("Server error.").unwrap(),
        });
        assert_eq!(
            other.to_string(),
            "the exchange refused: 10016 Server error."
        );
    }
}
