//! The order manager: a sans-I/O, allocation-free state machine that turns
//! quote targets and exchange events into order requests.
//!
//! It runs on the engine's order thread. Inputs are plain values the engine
//! builds from decoded Bybit messages ([`Target`], [`OrderEvent`], [`Fill`],
//! [`AckEvent`], [`RateLimitInfo`], link up/down); every input method returns
//! the [`Action`]s to send now (a borrowed slice of a fixed-capacity buffer,
//! valid until the next call), which the engine encodes as WS-trade or REST
//! requests. Nothing here reads a clock: `now` is the caller's monotonic
//! nanoseconds.
//!
//! Rules enforced (see the submodules for the mechanics):
//! - one order per side at most, pending creates included; an order of ours
//!   we do not track (restart leftovers, late creates) is tracked as a *stray*
//!   and cancelled, and blocks new creates on its side until it is gone;
//! - order state is driven by the `order` stream, fills and open-order
//!   snapshots, never by acks alone ([`order`]);
//! - amend rather than cancel+replace; both sides moving in one decision →
//!   one [`Action::AmendBatch`];
//! - PostOnly prices are clamped one tick inside the latest touch; a
//!   `Cancelled` + `EC_PostOnlyWillTakeLiquidity` is counted and re-placed at
//!   once one tick safer (not an error);
//! - worst-case exposure (position + resting + in-flight quantity) never
//!   exceeds `max_position` on either side. Executions the order stream (or
//!   an open-order snapshot) already implies but whose fills have not reached
//!   the position yet keep counting — as the slot's *unsettled* quantity or,
//!   once the order is closed, as a *ghost* entry that expires after
//!   `ack_timeout_ns` — so the position lagging the order stream never frees
//!   room early;
//! - order events older than what is already known (queued before a
//!   snapshot, or after the order's terminal event) are recognised by
//!   `updatedTime` and ignored;
//! - a definitely rejected create or amend backs the side off (100 ms,
//!   doubling per consecutive rejection) instead of re-sending at full rate;
//! - Bybit's per-UID request limits are never exceeded ([`budget`]);
//!   cancels have priority over amends, amends over creates;
//! - no create or amend on a side more often than `min_update_interval_ns`
//!   (cancels and PostOnly re-places are exempt);
//! - a disconnect with requests in flight makes those orders `Unknown` and
//!   triggers [`Action::QueryOpenOrders`]; the answer
//!   ([`Oms::on_query_answer`]) never drops a working order;
//! - while a query it asked for is unanswered, the manager sends no create
//!   and no amend (cancels still go): the answer may be read long after the
//!   exchange took its snapshot, and only orders that could be in that
//!   snapshot are judged by it. An answer applies only to the query it
//!   answers ([`QueryTicket`]): one to an older or abandoned query is
//!   ignored. An order the order stream reported open after the query was
//!   sent is never taken for gone by its answer;
//! - an action the engine could not send is handed back
//!   ([`Oms::on_unsent`]): its state change is undone and the decision is
//!   taken again on the next input.
//!
//! Fills: the caller passes only executions that move the position (trades,
//! and on derivatives liquidation, auto-deleveraging, delivery, block-trade
//! and position-move fills); funding and settlement are not fills and must
//! be filtered out before [`Oms::on_fill`] (nautilus #4937). Fills from `execution` and
//! `execution.fast` are de-duplicated by `execId` ([`dedupe`]); a maker fill
//! with an empty `orderLinkId` is matched by `orderId`. Every trade fill for
//! the symbol moves the position (the position is the account's, whoever
//! placed the order).
//!
//! Allocation: [`Oms::new`] allocates the dedupe arrays and the journal
//! buffer once. After that no method allocates, except that the journal
//! buffer grows if the engine stops draining it ([`Oms::clear_journal`]).
//! No method blocks or panics.

pub mod budget;
pub mod dedupe;
pub mod journal;
pub mod link_id;
pub mod order;
pub mod pnl;
pub mod reconcile;

use std::fmt;

use crate::ids::{Category, ExecId, OrderId, OrderLinkId, UpdateId};
use crate::time::ExchMs;
use crate::units::{Decimal, Lots, Side, Ticks};

pub use budget::{Endpoint, RateBudget, RateLimitInfo, RateLimits};
pub use dedupe::{ExecDedupe, Seen};
pub use journal::{Record, RecoveredState};
pub use link_id::{is_ours, LinkIdGen};
pub use order::{AckOutcome, Op, OrderEvent, OrderSlot, OrderState, OrderStatus, RejectReason};
pub use pnl::Pnl;

/// Most actions one call can emit.
pub const ACTION_CAP: usize = 16;
/// First back-off after a definitely rejected create or amend on a side
/// (doubling per consecutive rejection, up to 32×).
pub const REJECT_BACKOFF_NS: u64 = 100_000_000;
/// Most strays (untracked orders of ours being cancelled) tracked at once.
pub const MAX_STRAYS: usize = 8;

/// Errors of the order manager: bad configuration or bad input. A bad input
/// changes no state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OmsError {
    /// The configuration is unusable; the text says why.
    Config(&'static str),
    /// An input value is malformed; the text says which and how.
    BadInput(&'static str),
}

impl fmt::Display for OmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OmsError::Config(s) => write!(f, "invalid order-manager configuration: {s}"),
            OmsError::BadInput(s) => write!(f, "invalid order-manager input: {s}"),
        }
    }
}

impl std::error::Error for OmsError {}

/// Order-manager settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OmsConfig {
    /// Spot or linear (selects the default rate limits).
    pub category: Category,
    /// This run's id for link ids (see [`LinkIdGen::run_from_wall_ms`]).
    pub run: u32,
    /// Largest absolute worst-case position (`MAX_POSITION_SIZE`).
    pub max_position: Lots,
    /// Smallest order (`MIN_ORDER_SIZE`); a side that cannot fit this is pulled.
    pub min_qty: Lots,
    /// `MIN_UPDATE_INTERVAL` per side in ns (0 = none).
    pub min_update_interval_ns: u64,
    /// A request not confirmed by the order stream within this makes the
    /// order `Unknown` (and queried); an order missing from a query answer
    /// is taken for gone only this long after its create was sent. It must
    /// cover the time a request can still reach the book: the request's
    /// recv_window plus the clock difference with the exchange (the engine
    /// sets recv_window + 1 s).
    pub ack_timeout_ns: u64,
    /// An open-order query unanswered within this is sent again; the wait
    /// doubles with each query in a row left unanswered (up to 8×), so a slow
    /// exchange's answer gets the time it needs.
    pub query_timeout_ns: u64,
    /// Request limits.
    pub limits: RateLimits,
    /// Largest extra distance (ticks) from the touch after repeated PostOnly
    /// rejections.
    pub max_post_only_offset: i64,
    /// Whether journal records are produced.
    pub journal: bool,
    /// Bytes reserved for the journal buffer.
    pub journal_capacity: usize,
}

impl OmsConfig {
    /// Defaults for `category`: Bybit's default limits, 2 s ack timeout,
    /// 1 s query timeout, no minimum update interval, journal on (64 KiB).
    pub fn new(category: Category, run: u32, max_position: Lots, min_qty: Lots) -> OmsConfig {
        OmsConfig {
            category,
            run,
            max_position,
            min_qty,
            min_update_interval_ns: 0,
            ack_timeout_ns: 2_000_000_000,
            query_timeout_ns: 1_000_000_000,
            limits: RateLimits::bybit_default(category),
            max_post_only_offset: 5,
            journal: true,
            journal_capacity: 64 * 1024,
        }
    }

    fn validate(&self) -> Result<(), OmsError> {
        if self.max_position.0 < 0 {
            return Err(OmsError::Config("max_position must not be negative"));
        }
        if self.min_qty.0 <= 0 {
            return Err(OmsError::Config("min_qty must be at least one lot"));
        }
        if self.ack_timeout_ns == 0 || self.query_timeout_ns == 0 {
            return Err(OmsError::Config("timeouts must be positive"));
        }
        if self.max_post_only_offset < 0 {
            return Err(OmsError::Config(
                "max_post_only_offset must not be negative",
            ));
        }
        Ok(())
    }
}

/// What the strategy wants quoted now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Bid price, or `None` to pull the bid.
    pub bid: Option<Ticks>,
    /// Ask price, or `None` to pull the ask.
    pub ask: Option<Ticks>,
    /// Quantity per side.
    pub qty: Lots,
    /// Latest (best bid, best ask) of the book.
    pub touch: (Ticks, Ticks),
    /// Update id `u` of the market message behind this target.
    pub trigger_u: UpdateId,
    /// Monotonic ns.
    pub now: u64,
}

/// One execution from `execution` or `execution.fast` (`execType = Trade` only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    /// `execId`.
    pub exec_id: ExecId,
    /// `orderId`.
    pub order_id: OrderId,
    /// `orderLinkId` (empty for maker fills on `execution.fast`).
    pub link_id: OrderLinkId,
    /// `side` of our order.
    pub side: Side,
    /// `execPrice` in ticks.
    pub price: Ticks,
    /// `execQty` in lots.
    pub qty: Lots,
    /// `execFee` (absent on `execution.fast`).
    pub fee: Option<Decimal>,
    /// The fee's part in the base coin, in billionths of a lot (a spot
    /// buy's fee comes out of the quantity received); 0 when none. Counted
    /// with the fee, once.
    pub fee_base_nlots: i64,
    /// `isMaker`.
    pub is_maker: bool,
    /// `execTime`.
    pub exec_time: ExchMs,
}

impl Fill {
    fn validate(&self) -> Result<(), OmsError> {
        if self.exec_id.is_empty() {
            return Err(OmsError::BadInput("fill has an empty execId"));
        }
        if self.qty.0 <= 0 {
            return Err(OmsError::BadInput("fill quantity must be positive"));
        }
        if self.price.0 <= 0 {
            return Err(OmsError::BadInput("fill price must be positive"));
        }
        Ok(())
    }
}

/// Which request an acknowledgement answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckOp {
    /// `order.create` (or one item of a create batch).
    Create,
    /// `order.amend` (or one item of an amend batch).
    Amend,
    /// `order.cancel` (or one item of a cancel batch).
    Cancel,
    /// `cancel-all`.
    CancelAll,
}

/// A WS-trade or REST response to one of our requests (per item for batches).
/// The engine maps a WS `reqId` back to the `orderLinkId` / `orderId` the
/// request carried, so the manager only ever sees order ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckEvent {
    /// The request kind.
    pub op: AckOp,
    /// `orderLinkId` echoed (may be empty).
    pub link_id: OrderLinkId,
    /// `orderId` echoed (empty for failed batch items).
    pub order_id: OrderId,
    /// `retCode` (per item for batches).
    pub ret_code: i64,
}

/// Names one open-order query ([`Action::QueryOpenOrders`]): the engine
/// takes it with [`Oms::query_ticket`] when it sends the query and hands it
/// back with the answer ([`Oms::on_query_answer`]), so that an answer is never
/// applied to a query it does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueryTicket(u64);

/// Which connection went down or came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    /// The WS trade (order entry) connection.
    Trade,
    /// The private stream (`order`, `execution`, ...).
    Private,
}

/// How the engine should address an existing order (Bybit: `orderId` wins if
/// both are given; send `orderLinkId` only when `order_id` is empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderRef {
    /// Exchange id, if known.
    pub order_id: OrderId,
    /// Our client id.
    pub link_id: OrderLinkId,
}

/// One amend request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmendReq {
    /// Side of the order.
    pub side: Side,
    /// The order.
    pub order: OrderRef,
    /// New price.
    pub price: Ticks,
    /// New *total* order quantity (Bybit's amend semantics), if it changes.
    pub qty: Option<Lots>,
}

/// A request the engine must send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// New PostOnly limit order.
    Create {
        /// Side.
        side: Side,
        /// Limit price.
        price: Ticks,
        /// Quantity.
        qty: Lots,
        /// Client id (ends in `-{trigger_u}`).
        link_id: OrderLinkId,
        /// Update id of the triggering market message.
        trigger_u: UpdateId,
    },
    /// Amend one order.
    Amend {
        /// The amend.
        req: AmendReq,
        /// Update id of the triggering market message.
        trigger_u: UpdateId,
    },
    /// Amend both sides in one batch request.
    AmendBatch {
        /// Bid amend then ask amend.
        reqs: [AmendReq; 2],
        /// Update id of the triggering market message.
        trigger_u: UpdateId,
    },
    /// Cancel one order.
    Cancel {
        /// Side of the order.
        side: Side,
        /// The order.
        order: OrderRef,
        /// Update id of the triggering market message.
        trigger_u: UpdateId,
    },
    /// Cancel every order on the symbol (shutdown / fatal).
    CancelAll,
    /// Fetch open orders and pass them to [`Oms::on_open_orders`].
    QueryOpenOrders,
}

/// Fixed-capacity action list.
#[derive(Debug, Clone)]
struct ActionBuf {
    buf: [Action; ACTION_CAP],
    len: usize,
}

impl ActionBuf {
    fn new() -> ActionBuf {
        ActionBuf {
            buf: [Action::CancelAll; ACTION_CAP],
            len: 0,
        }
    }
    fn has_room(&self) -> bool {
        self.len < ACTION_CAP
    }
    fn push(&mut self, a: Action) -> bool {
        match self.buf.get_mut(self.len) {
            Some(s) => {
                *s = a;
                self.len += 1;
                true
            }
            None => false,
        }
    }
    fn as_slice(&self) -> &[Action] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// An order of ours that is not a side's slot. Either a *stray* being
/// cancelled (restart leftovers, a create we had given up on) or a *ghost*:
/// quantity of a closed or vanished order whose fills may still be on their
/// way (the order stream or an open-order snapshot can be ahead of the
/// execution streams). Both count in the worst-case exposure; strays also
/// block creates on their side. Ghosts expire after `ack_timeout_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stray {
    /// Whether this entry is in use.
    pub active: bool,
    /// When the order stream (or a snapshot) last reported it open
    /// (monotonic ns): a snapshot older than that cannot prove it gone.
    pub seen_ns: Option<u64>,
    /// A ghost (closed, awaiting fills) rather than an open order.
    pub ghost: bool,
    /// Side.
    pub side: Side,
    /// Exchange id.
    pub order_id: OrderId,
    /// Client id.
    pub link_id: OrderLinkId,
    /// Quantity that may still execute.
    pub leaves: Lots,
    /// Executed quantity per the order stream.
    pub cum: Lots,
    /// Executed quantity whose fills reached the position.
    pub filled: Lots,
    /// When its cancel was sent.
    pub cancel_ns: Option<u64>,
    /// When a ghost is forgotten (monotonic ns).
    pub expires_ns: u64,
}

impl Stray {
    fn none() -> Stray {
        Stray {
            active: false,
            seen_ns: None,
            ghost: false,
            side: Side::Buy,
            order_id: OrderId::default(),
            link_id: OrderLinkId::default(),
            leaves: Lots(0),
            cum: Lots(0),
            filled: Lots(0),
            cancel_ns: None,
            expires_ns: 0,
        }
    }

    /// Worst-case quantity this entry may still add to the position.
    pub fn exposure(&self) -> Lots {
        if !self.active {
            return Lots(0);
        }
        Lots(
            self.leaves
                .0
                .max(0)
                .saturating_add(self.cum.0.saturating_sub(self.filled.0).max(0)),
        )
    }

    fn matches(&self, order_id: &OrderId, link_id: &OrderLinkId) -> bool {
        self.active
            && ((!order_id.is_empty() && self.order_id == *order_id)
                || (!link_id.is_empty() && self.link_id == *link_id))
    }
}

/// How many recently closed orders are remembered (to recognise stale events).
const GONE_CAP: usize = 16;

/// An order known to be closed as of an exchange time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Gone {
    order_id: OrderId,
    link_id: OrderLinkId,
    as_of: ExchMs,
}

/// Counters for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OmsStats {
    /// Fills applied.
    pub fills: u64,
    /// Fills seen before (the other stream, or a replay).
    pub duplicate_fills: u64,
    /// Replayed fills older than the restored journal window (already counted).
    pub stale_fills: u64,
    /// PostOnly orders re-placed after `EC_PostOnlyWillTakeLiquidity`.
    pub post_only_replaces: u64,
    /// Requests definitely rejected by the exchange (PostOnly kills and rate
    /// limits are not counted here).
    pub rejects: u64,
    /// Orders that became `Unknown`.
    pub unknowns: u64,
    /// Requests not confirmed in time.
    pub timeouts: u64,
    /// Order events for orders that are not ours.
    pub foreign_events: u64,
    /// Order events older than what is known about the order (ignored).
    pub stale_events: u64,
    /// Cancels sent for strays.
    pub stray_cancels: u64,
    /// Open-order queries emitted.
    pub queries: u64,
    /// Query answers ignored: the query was abandoned, superseded, or its
    /// link went down before the answer came.
    pub stale_answers: u64,
    /// Actions the engine handed back unsent ([`Oms::on_unsent`]).
    pub unsent: u64,
    /// Actions held back by the rate budget.
    pub budget_denied: u64,
    /// Creates and amends held back by the minimum update interval.
    pub interval_held: u64,
    /// Journal records not written because the journal buffer was full (the
    /// engine could not drain it: its file refused writes for long).
    pub journal_dropped: u64,
}

/// The order manager. See the module docs.
#[derive(Debug, Clone)]
pub struct Oms {
    cfg: OmsConfig,
    ids: LinkIdGen,
    slots: [OrderSlot; 2],
    strays: [Stray; MAX_STRAYS],
    budget: RateBudget,
    dedupe: ExecDedupe,
    pnl: Pnl,
    target: Option<Target>,
    touch: (Ticks, Ticks),
    extra: [i64; 2],
    replace_cap: [Option<Ticks>; 2],
    replace_due: [bool; 2],
    last_action_ns: [Option<u64>; 2],
    reject_streak: [u32; 2],
    hold_until: [u64; 2],
    trade_up: bool,
    private_up: bool,
    awaiting_snapshot: bool,
    query_sent_ns: Option<u64>,
    /// Queries emitted so far; the current one's [`QueryTicket`].
    query_seq: u64,
    /// Queries in a row that went unanswered (the wait for the next one
    /// doubles with each, up to 8× the query timeout).
    query_misses: u8,
    /// When the last query answer was applied, and `stats.unknowns` then:
    /// an order the answer left unknown is asked about again only a query
    /// timeout later, not at the rate budget's full speed, unless something
    /// new became unknown since.
    answered_ns: Option<(u64, u64)>,
    halted: bool,
    cancel_all_pending: bool,
    fill_floor: ExchMs,
    gone: [Gone; GONE_CAP],
    gone_head: usize,
    stats: OmsStats,
    journal: Vec<u8>,
    out: ActionBuf,
}

/// Index of a side in per-side arrays.
#[inline]
pub(crate) const fn si(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

impl Oms {
    /// A fresh order manager. It quotes nothing until the start-up open-order
    /// snapshot has been passed to [`Oms::adopt_open_orders`] (an explicit
    /// not-ready state).
    pub fn new(cfg: OmsConfig) -> Result<Oms, OmsError> {
        cfg.validate()?;
        Ok(Oms {
            cfg,
            ids: LinkIdGen::new(cfg.run),
            slots: [OrderSlot::empty(Side::Buy), OrderSlot::empty(Side::Sell)],
            strays: [Stray::none(); MAX_STRAYS],
            budget: RateBudget::new(cfg.limits),
            dedupe: ExecDedupe::new(),
            pnl: Pnl::default(),
            target: None,
            touch: (Ticks(0), Ticks(0)),
            extra: [0; 2],
            replace_cap: [None; 2],
            replace_due: [false; 2],
            last_action_ns: [None; 2],
            reject_streak: [0; 2],
            hold_until: [0; 2],
            trade_up: true,
            private_up: true,
            awaiting_snapshot: true,
            query_sent_ns: None,
            query_seq: 0,
            query_misses: 0,
            answered_ns: None,
            halted: false,
            cancel_all_pending: false,
            fill_floor: ExchMs(0),
            gone: [Gone::default(); GONE_CAP],
            gone_head: 0,
            stats: OmsStats::default(),
            journal: Vec::with_capacity(cfg.journal_capacity),
            out: ActionBuf::new(),
        })
    }

    /// Makes `self` a stand-in for `live` that decides exactly as `live`
    /// would: the order stage rehearses decisions on it to keep the decision
    /// path (journal encoding included) warm between real orders, and `live`
    /// is never touched. Copies everything but the fill de-duplication table
    /// (decisions never read it) and the journal (the stand-in's own is
    /// emptied: rehearsals journal into it and nothing reads it). Allocates
    /// nothing once the stand-in's journal buffer has its capacity.
    pub fn copy_for_rehearsal(&mut self, live: &Oms) {
        // Destructured so that a new field must be considered here.
        let Oms {
            cfg,
            ids,
            slots,
            strays,
            budget,
            dedupe: _,
            pnl,
            target,
            touch,
            extra,
            replace_cap,
            replace_due,
            last_action_ns,
            reject_streak,
            hold_until,
            trade_up,
            private_up,
            awaiting_snapshot,
            query_sent_ns,
            query_seq,
            query_misses,
            answered_ns,
            halted,
            cancel_all_pending,
            fill_floor,
            gone,
            gone_head,
            stats,
            journal: _,
            out: _,
        } = live;
        self.cfg = *cfg;
        self.ids = ids.clone();
        self.slots = *slots;
        self.strays = *strays;
        self.budget.clone_from(budget);
        self.pnl = *pnl;
        self.target = *target;
        self.touch = *touch;
        self.extra = *extra;
        self.replace_cap = *replace_cap;
        self.replace_due = *replace_due;
        self.last_action_ns = *last_action_ns;
        self.reject_streak = *reject_streak;
        self.hold_until = *hold_until;
        self.trade_up = *trade_up;
        self.private_up = *private_up;
        self.awaiting_snapshot = *awaiting_snapshot;
        self.query_sent_ns = *query_sent_ns;
        self.query_seq = *query_seq;
        self.query_misses = *query_misses;
        self.answered_ns = *answered_ns;
        self.halted = *halted;
        self.cancel_all_pending = *cancel_all_pending;
        self.fill_floor = *fill_floor;
        self.gone = *gone;
        self.gone_head = *gone_head;
        self.stats = *stats;
        self.journal.clear();
        self.out.len = 0;
    }

    /// Writes back, unchanged, every page a decision writes — the order
    /// slots, the rate budget, the action list, the first 4 KiB of the
    /// journal buffer and the rest of the state — so that a host's
    /// write-protection of those pages is paid here, while idle, and not in
    /// the next reaction ([`crate::redirty`]). Changes nothing observable;
    /// allocates nothing.
    pub fn redirty(&mut self) {
        use crate::redirty::{rewrite, rewrite_buf, rewrite_pages};
        // Destructured so that a new field must be considered here.
        let Oms {
            cfg,
            ids,
            slots,
            strays,
            budget,
            // Written by fills, not by decisions.
            dedupe: _,
            pnl,
            target,
            touch,
            extra,
            replace_cap,
            replace_due,
            last_action_ns,
            reject_streak,
            hold_until,
            trade_up,
            private_up,
            awaiting_snapshot,
            query_sent_ns,
            query_seq,
            query_misses,
            answered_ns,
            halted,
            cancel_all_pending,
            fill_floor,
            gone,
            gone_head,
            stats,
            journal,
            out,
        } = self;
        rewrite(cfg);
        ids.redirty();
        rewrite(slots);
        rewrite(strays);
        budget.redirty();
        rewrite(pnl);
        rewrite(target);
        rewrite(touch);
        rewrite(extra);
        rewrite(replace_cap);
        rewrite(replace_due);
        rewrite(last_action_ns);
        rewrite(reject_streak);
        rewrite(hold_until);
        rewrite(trade_up);
        rewrite(private_up);
        rewrite(awaiting_snapshot);
        rewrite(query_sent_ns);
        rewrite(query_seq);
        rewrite(query_misses);
        rewrite(answered_ns);
        rewrite(halted);
        rewrite(cancel_all_pending);
        rewrite(fill_floor);
        rewrite(gone);
        rewrite(gone_head);
        rewrite(stats);
        rewrite_buf(journal, 4096);
        rewrite_pages(&mut out.buf);
        rewrite(&mut out.len);
    }

    // ---- read-only views ----------------------------------------------

    /// The configuration.
    pub fn config(&self) -> &OmsConfig {
        &self.cfg
    }
    /// This run's link-id prefix (`gm{run}-`).
    pub fn run_prefix(&self) -> &str {
        self.ids.run_prefix()
    }
    /// The order slot of `side`.
    pub fn slot(&self, side: Side) -> &OrderSlot {
        &self.slots[si(side)]
    }
    /// Strays being cancelled.
    pub fn strays(&self) -> impl Iterator<Item = &Stray> {
        self.strays.iter().filter(|s| s.active)
    }
    /// Net position in lots.
    pub fn position(&self) -> Lots {
        self.pnl.position
    }
    /// Position, cost basis and PnL.
    pub fn pnl(&self) -> &Pnl {
        &self.pnl
    }
    /// Counters.
    pub fn stats(&self) -> OmsStats {
        let mut s = self.stats;
        s.budget_denied = Endpoint::ALL.iter().map(|&e| self.budget.denied(e)).sum();
        s
    }
    /// The rate budget.
    pub fn budget(&self) -> &RateBudget {
        &self.budget
    }
    /// Whether quoting is possible (links up, snapshot reconciled, not halted).
    pub fn is_ready(&self) -> bool {
        self.trade_up && self.private_up && !self.awaiting_snapshot && !self.halted
    }
    /// The open-order query awaiting its answer, if any. The engine takes
    /// it when it sends the query (never earlier: the answer is judged as of
    /// the time the query was asked for, so it must be served after that)
    /// and passes it back with the answer to [`Oms::on_query_answer`]. While
    /// it is `Some`, no create or amend is sent.
    pub fn query_ticket(&self) -> Option<QueryTicket> {
        self.query_sent_ns.map(|_| QueryTicket(self.query_seq))
    }
    /// Whether [`Oms::shutdown`] was called.
    pub fn is_halted(&self) -> bool {
        self.halted
    }
    /// Worst-case quantity that could still fill on `side` (slot + strays).
    pub fn open_exposure(&self, side: Side) -> Lots {
        let strays: i64 = self
            .strays()
            .filter(|s| s.side == side)
            .map(|s| s.exposure().0)
            .fold(0i64, |a, b| a.saturating_add(b));
        Lots(self.slots[si(side)].exposure().0.saturating_add(strays))
    }
    /// Worst-case long (`side = Buy`) or short (`Sell`) position if every
    /// open and in-flight order on that side filled.
    pub fn worst_case(&self, side: Side) -> Lots {
        Lots(
            side.sign()
                .saturating_mul(self.pnl.position.0)
                .saturating_add(self.open_exposure(side).0),
        )
    }
    /// Journal lines produced since the last [`Oms::clear_journal`].
    pub fn journal(&self) -> &[u8] {
        &self.journal
    }
    /// Empties the journal buffer (keeps its capacity).
    pub fn clear_journal(&mut self) {
        self.journal.clear();
    }

    /// Removes the first `n` bytes of the journal buffer (taken by the
    /// engine); keeps its capacity.
    pub fn consume_journal(&mut self, n: usize) {
        self.journal.drain(..n.min(self.journal.len()));
    }

    // ---- inputs -----------------------------------------------------------

    /// A new quote target.
    pub fn on_target(&mut self, t: &Target) -> Result<&[Action], OmsError> {
        if t.qty.0 <= 0 {
            return Err(OmsError::BadInput("target quantity must be positive"));
        }
        let (bb, ba) = t.touch;
        if bb.0 <= 0 || ba.0 <= bb.0 {
            return Err(OmsError::BadInput(
                "target touch must be positive and uncrossed",
            ));
        }
        if t.bid.is_some_and(|p| p.0 <= 0) || t.ask.is_some_and(|p| p.0 <= 0) {
            return Err(OmsError::BadInput("target price must be positive"));
        }
        self.out.len = 0;
        // A new touch is new market information: the price cap learnt from a
        // PostOnly kill at the old one no longer applies.
        if t.touch != self.touch {
            self.replace_cap = [None; 2];
        }
        self.touch = t.touch;
        self.target = Some(*t);
        self.reconcile(t.now);
        Ok(self.out.as_slice())
    }

    /// Pulls both quotes when no market is known (no valid touch yet: e.g.
    /// a restart while the book is invalid or the feed down): every order
    /// of ours the manager follows is cancelled. [`Self::on_target`] needs
    /// a touch; a pull must not.
    pub fn on_pull(&mut self, qty: Lots, trigger_u: UpdateId, now: u64) -> &[Action] {
        self.out.len = 0;
        self.target = Some(Target {
            bid: None,
            ask: None,
            qty,
            touch: self.touch,
            trigger_u,
            now,
        });
        self.reconcile(now);
        self.out.as_slice()
    }

    /// An update from the private `order` stream.
    pub fn on_order_update(&mut self, ev: &OrderEvent, now: u64) -> Result<&[Action], OmsError> {
        ev.validate().map_err(OmsError::BadInput)?;
        self.out.len = 0;
        self.apply_order_event(ev, now);
        self.reconcile(now);
        Ok(self.out.as_slice())
    }

    /// A fill from `execution` or `execution.fast`.
    pub fn on_fill(&mut self, f: &Fill, now: u64) -> Result<&[Action], OmsError> {
        f.validate()?;
        self.out.len = 0;
        self.apply_fill(f);
        self.reconcile(now);
        Ok(self.out.as_slice())
    }

    /// A response to one of our requests (one call per batch item).
    pub fn on_ack(&mut self, a: &AckEvent, now: u64) -> &[Action] {
        self.out.len = 0;
        let outcome = AckOutcome::classify(a.ret_code);
        let op = match a.op {
            AckOp::Create => Op::Create,
            AckOp::Amend => Op::Amend,
            AckOp::Cancel => Op::Cancel,
            AckOp::CancelAll => {
                if outcome == AckOutcome::RateLimited {
                    self.budget.on_limited(Endpoint::CancelAll, now);
                }
                if outcome != AckOutcome::Accepted && self.halted {
                    self.cancel_all_pending = true;
                }
                self.reconcile(now);
                return self.out.as_slice();
            }
        };
        if outcome == AckOutcome::RateLimited {
            let ep = match op {
                Op::Create => Endpoint::Create,
                Op::Amend => Endpoint::Amend,
                Op::Cancel => Endpoint::Cancel,
            };
            self.budget.on_limited(ep, now);
        }
        if outcome == AckOutcome::Rejected {
            self.stats.rejects += 1;
        }
        if let Some(i) = self
            .slots
            .iter()
            .position(|s| s.matches(&a.order_id, &a.link_id))
        {
            let side = self.slots[i].side;
            let price = self.slots[i].price;
            let was_unknown = self.slots[i].state == OrderState::Unknown;
            let state_before = self.slots[i].state;
            let unknown = self.slots[i].on_ack(op, outcome, &a.order_id);
            if unknown && !was_unknown {
                self.stats.unknowns += 1;
            }
            if outcome == AckOutcome::Rejected && self.slots[i].state != state_before {
                // A definite refusal undid the request: back off on this side
                // so a request the exchange keeps refusing is not re-sent at
                // the full rate.
                self.reject_streak[i] = self.reject_streak[i].saturating_add(1).min(6);
                let wait = REJECT_BACKOFF_NS << (self.reject_streak[i] - 1);
                self.hold_until[i] = now.saturating_add(wait);
            }
            if outcome == AckOutcome::PostOnlyRejected
                && op == Op::Create
                && !self.slots[i].is_live()
            {
                self.post_only_killed(side, price);
            }
        } else if let Some(s) = self
            .strays
            .iter_mut()
            .find(|s| !s.ghost && s.matches(&a.order_id, &a.link_id))
        {
            if op == Op::Cancel {
                match outcome {
                    AckOutcome::OrderGone => {
                        // Filled or cancelled already: what rested may have
                        // executed, so it stays counted until its fills
                        // arrive or the grace period ends.
                        s.cum += s.leaves;
                        s.leaves = Lots(0);
                        s.ghost = true;
                        s.expires_ns = now.saturating_add(self.cfg.ack_timeout_ns);
                        if s.exposure().0 == 0 {
                            s.active = false;
                        }
                        // Closed for good, whatever an older snapshot lists.
                        let (oid, lid) = (s.order_id, s.link_id);
                        self.remember_gone(&oid, &lid, ExchMs(u64::MAX));
                    }
                    AckOutcome::Rejected | AckOutcome::RateLimited => s.cancel_ns = None,
                    _ => {}
                }
            }
        }
        self.reconcile(now);
        self.out.as_slice()
    }

    /// The engine could not send `a` (one of this manager's actions, e.g.
    /// its queue was full): the request never left, so its state change is
    /// undone — a create's side is empty again, an amend's or a cancel's
    /// order is as before, a stray's cancel, a cancel-all or a query is due
    /// again — and the next input decides anew. Budget spent on it stays
    /// spent (conservative). Emits nothing; an action that no longer matches
    /// the state (superseded) is ignored.
    pub fn on_unsent(&mut self, a: &Action, now: u64) {
        self.out.len = 0;
        self.stats.unsent += 1;
        match *a {
            Action::Create { side, link_id, .. } => {
                let s = &mut self.slots[si(side)];
                if s.state == OrderState::PendingNew
                    && s.inflight == Some(Op::Create)
                    && s.link_id == link_id
                {
                    *s = OrderSlot::empty(side);
                    // Nothing of the create is on the exchange: the side may
                    // be quoted at once.
                    self.last_action_ns[si(side)] = None;
                }
            }
            Action::Amend { req, .. } => self.unsend_amend(&req),
            Action::AmendBatch { reqs, .. } => {
                self.unsend_amend(&reqs[0]);
                self.unsend_amend(&reqs[1]);
            }
            Action::Cancel { side, order, .. } => {
                let s = &mut self.slots[si(side)];
                if s.state == OrderState::PendingCancel
                    && s.matches(&order.order_id, &order.link_id)
                {
                    s.state = s.prior;
                    s.inflight = match s.prior {
                        OrderState::PendingNew => Some(Op::Create),
                        OrderState::PendingAmend => Some(Op::Amend),
                        _ => None,
                    };
                    // The prior request's own timeout restarts from now.
                    s.req_ns = now;
                } else if let Some(st) = self
                    .strays
                    .iter_mut()
                    .find(|st| !st.ghost && st.matches(&order.order_id, &order.link_id))
                {
                    st.cancel_ns = None;
                }
            }
            Action::CancelAll => {
                if self.halted {
                    self.cancel_all_pending = true;
                }
            }
            Action::QueryOpenOrders => {
                // Not asked: no answer is awaited, and the next decision asks
                // again (with a new ticket).
                self.query_sent_ns = None;
            }
        }
    }

    fn unsend_amend(&mut self, r: &AmendReq) {
        let s = &mut self.slots[si(r.side)];
        if s.state == OrderState::PendingAmend
            && s.inflight == Some(Op::Amend)
            && s.matches(&r.order.order_id, &r.order.link_id)
            && s.amend_price == r.price
        {
            s.state = OrderState::Working;
            s.inflight = None;
            s.amend_price = Ticks(0);
            s.amend_qty = Lots(0);
        }
    }

    /// Rate-limit headers from a response.
    pub fn on_rate_limit(&mut self, info: &RateLimitInfo, now: u64) {
        self.budget.on_rate_limit(info, now);
    }

    /// A connection went down: requests in flight have unknown outcomes.
    pub fn on_disconnect(&mut self, link: Link, now: u64) -> &[Action] {
        self.out.len = 0;
        match link {
            Link::Trade => self.trade_up = false,
            Link::Private => {
                self.private_up = false;
                self.awaiting_snapshot = true;
                self.query_sent_ns = None;
            }
        }
        for s in self.slots.iter_mut() {
            if s.lose_track() {
                self.stats.unknowns += 1;
            }
        }
        self.reconcile(now);
        self.out.as_slice()
    }

    /// A connection is back; orders are reconciled by query before quoting
    /// resumes.
    pub fn on_reconnected(&mut self, link: Link, now: u64) -> &[Action] {
        self.out.len = 0;
        match link {
            Link::Trade => self.trade_up = true,
            Link::Private => {
                self.private_up = true;
                self.awaiting_snapshot = true;
                self.query_sent_ns = None;
            }
        }
        self.reconcile(now);
        self.out.as_slice()
    }

    /// Timer: request timeouts, re-tries held back by budget or interval,
    /// queries. Call it every loop iteration (or at least every few ms).
    pub fn on_tick(&mut self, now: u64) -> &[Action] {
        self.out.len = 0;
        for s in self.slots.iter_mut() {
            let pending = matches!(
                s.state,
                OrderState::PendingNew | OrderState::PendingAmend | OrderState::PendingCancel
            );
            if pending && now.saturating_sub(s.req_ns) >= self.cfg.ack_timeout_ns && s.lose_track()
            {
                self.stats.timeouts += 1;
                self.stats.unknowns += 1;
            }
        }
        self.reconcile(now);
        self.out.as_slice()
    }

    /// Stops quoting for good and cancels everything (shutdown or fatal error).
    pub fn shutdown(&mut self, now: u64) -> &[Action] {
        self.out.len = 0;
        self.halted = true;
        self.cancel_all_pending = true;
        for s in self.slots.iter_mut() {
            if s.is_live() && s.state != OrderState::PendingCancel {
                s.start_cancel(now);
            }
        }
        self.reconcile(now);
        self.out.as_slice()
    }

    /// Overwrites the position from an exchange `position` / wallet snapshot.
    pub fn set_position(&mut self, qty: Lots, avg: Option<Ticks>, now: u64) {
        self.pnl.set_position(qty, avg);
        self.journal_position(now);
    }

    /// Overwrites the position and its cost (ticks × lots; see
    /// [`Pnl::entry_cost`]) from an exchange `position` snapshot.
    pub fn set_position_cost(&mut self, qty: Lots, cost: i128, now: u64) {
        self.pnl.set_position_cost(qty, cost);
        self.journal_position(now);
    }

    fn journal_position(&mut self, now: u64) {
        let qty = self.pnl.position;
        self.journal_record(&Record::Position {
            ts: now,
            qty,
            cost: self.pnl.cost,
        });
    }

    /// Fills executed before `at` are not counted from now on (an exchange
    /// position read at `at` includes them).
    pub fn raise_fill_floor(&mut self, at: ExchMs) {
        self.fill_floor = self.fill_floor.max(at);
    }

    /// Restores position, PnL and seen execution ids from a recovered journal
    /// (call before replaying the exchange's executions).
    pub fn restore(&mut self, rec: &RecoveredState) {
        self.pnl = rec.pnl;
        let skip = rec.seen.len().saturating_sub(dedupe::DEDUPE_CAPACITY);
        for (id, _, fee) in rec.seen.iter().skip(skip) {
            self.dedupe.check_insert(id, *fee);
        }
        // Journal order is fill order; only the tail of a journal can be lost,
        // so anything older than the oldest remembered id was journaled.
        self.fill_floor = if skip > 0 {
            rec.seen.get(skip).map(|s| s.1).unwrap_or(ExchMs(0))
        } else {
            ExchMs(0)
        };
    }

    // ---- internals ------------------------------------------------------

    fn journal_record(&mut self, rec: &Record<'_>) {
        if !self.cfg.journal {
            return;
        }
        // Never grow the buffer on a decision: when the engine cannot drain
        // it (its file refuses writes), records are dropped and counted; a
        // restart recovers missed fills from the exchange's execution list.
        if self.journal.len() + journal::MAX_RECORD > self.journal.capacity() {
            self.stats.journal_dropped += 1;
            return;
        }
        journal::encode(rec, &mut self.journal);
    }

    fn apply_fill(&mut self, f: &Fill) {
        if f.exec_time < self.fill_floor {
            self.stats.stale_fills += 1;
            return;
        }
        match self.dedupe.check_insert(&f.exec_id, f.fee.is_some()) {
            Seen::New => {
                self.stats.fills += 1;
                self.pnl.apply(f.side, f.price, f.qty);
                if let Some(fee) = f.fee {
                    self.pnl.charge(fee, f.fee_base_nlots);
                }
                if self.attribute_fill(f) {
                    self.dedupe.set_attributed(&f.exec_id);
                }
                self.journal_record(&Record::Fill(f));
            }
            Seen::Duplicate {
                fee_counted,
                attributed,
            } => {
                self.stats.duplicate_fills += 1;
                // The first copy (e.g. an `execution.fast` maker fill with
                // no link id, for an order whose id we did not know yet)
                // may not have found its order; this one may.
                if !attributed && self.attribute_fill(f) {
                    self.dedupe.set_attributed(&f.exec_id);
                }
                if let (false, Some(fee)) = (fee_counted, f.fee) {
                    self.pnl.charge(fee, f.fee_base_nlots);
                    // Journal the copy with the fee; recovery de-duplicates it
                    // the same way and keeps only the fee.
                    self.journal_record(&Record::Fill(f));
                }
            }
        }
    }

    /// Reduces the resting quantity of the order `f` belongs to; `false` if
    /// it is none of ours we track.
    fn attribute_fill(&mut self, f: &Fill) -> bool {
        if let Some(s) = self
            .slots
            .iter_mut()
            .find(|s| s.matches(&f.order_id, &f.link_id))
        {
            if s.order_id.is_empty() {
                s.order_id = f.order_id;
            }
            let (oid, lid) = (s.order_id, s.link_id);
            if s.on_fill(f.qty) {
                // Fully filled: closed for good, whatever an older snapshot
                // still lists.
                self.remember_gone(&oid, &lid, ExchMs(u64::MAX));
            }
            return true;
        }
        if let Some(s) = self
            .strays
            .iter_mut()
            .find(|s| s.matches(&f.order_id, &f.link_id))
        {
            s.filled += f.qty;
            if s.filled.0 > s.cum.0 {
                let d = s.filled.0.saturating_sub(s.cum.0);
                s.cum = s.filled;
                s.leaves = Lots(s.leaves.0.saturating_sub(d).max(0));
            }
            if s.ghost && s.exposure().0 == 0 {
                s.active = false;
            }
            return true;
        }
        false
    }

    fn apply_order_event(&mut self, ev: &OrderEvent, now: u64) {
        if let Some(i) = self
            .slots
            .iter()
            .position(|s| s.matches(&ev.order_id, &ev.link_id))
        {
            self.journal_record(&Record::Order(ev));
            let side = self.slots[i].side;
            if !ev.status.is_open() {
                self.remember_gone(&ev.order_id, &ev.link_id, ExchMs(u64::MAX));
            }
            let change = self.slots[i].on_event(ev);
            if ev.status.is_open() {
                self.slots[i].seen_ns = Some(now);
            }
            match change {
                order::SlotChange::Confirmed => {
                    // The PostOnly price cap stays until the touch moves:
                    // lifting it here would amend the re-placed order straight
                    // back onto the price that was just killed (kill,
                    // re-place, amend, kill … while the book looks the same).
                    self.extra[i] = 0;
                    self.reject_streak[i] = 0;
                }
                order::SlotChange::Closed {
                    post_only,
                    price,
                    unsettled,
                } => {
                    self.add_ghost(side, &ev.order_id, &ev.link_id, unsettled, now);
                    if post_only {
                        self.post_only_killed(side, price);
                    }
                }
                _ => {}
            }
            return;
        }
        if let Some(k) = self
            .strays
            .iter()
            .position(|s| !s.ghost && s.matches(&ev.order_id, &ev.link_id))
        {
            let grace = now.saturating_add(self.cfg.ack_timeout_ns);
            let s = &mut self.strays[k];
            if s.order_id.is_empty() {
                s.order_id = ev.order_id;
            }
            s.cum = s.cum.max(ev.cum_exec_qty);
            if ev.status.is_open() {
                s.leaves = ev.leaves_qty;
                s.seen_ns = Some(now);
            } else {
                // Closed: what executed but has not been seen as fills may
                // still arrive.
                s.leaves = Lots(0);
                s.ghost = true;
                s.expires_ns = grace;
                if s.exposure().0 == 0 {
                    s.active = false;
                }
                let (oid, lid) = (s.order_id, s.link_id);
                self.remember_gone(&oid, &lid, ExchMs(u64::MAX));
            }
            self.journal_record(&Record::Order(ev));
            return;
        }
        if self.is_known_gone(ev) {
            // An event older than the news that this order is closed (queued
            // before a snapshot, or after its terminal event): stale.
            self.stats.stale_events += 1;
            return;
        }
        if is_ours(&ev.link_id) && ev.status.is_open() {
            // An order of ours nobody tracks (e.g. a create we had given up
            // on): never ignore it — track it and cancel it.
            self.journal_record(&Record::Order(ev));
            // If we held it as a ghost (given up as gone), it is this order.
            for g in self.strays.iter_mut() {
                if g.ghost && g.matches(&ev.order_id, &ev.link_id) {
                    g.active = false;
                }
            }
            // Its executions may or may not be in the position already:
            // count them as unsettled (pessimistic) until it closes.
            self.add_stray(ev, Lots(0), now);
        } else {
            self.stats.foreign_events += 1;
        }
    }

    pub(crate) fn remember_gone(
        &mut self,
        order_id: &OrderId,
        link_id: &OrderLinkId,
        as_of: ExchMs,
    ) {
        let k = self.gone_head % GONE_CAP;
        if let Some(g) = self.gone.get_mut(k) {
            *g = Gone {
                order_id: *order_id,
                link_id: *link_id,
                as_of,
            };
        }
        self.gone_head = (self.gone_head + 1) % GONE_CAP;
    }

    fn is_known_gone(&self, ev: &OrderEvent) -> bool {
        self.gone.iter().any(|g| {
            let same = (!ev.order_id.is_empty() && g.order_id == ev.order_id)
                || (!ev.link_id.is_empty() && g.link_id == ev.link_id);
            same && ev.updated <= g.as_of
        })
    }

    /// Whether the order stream reported this order closed (terminal: it
    /// cannot be open again, whatever an older snapshot says).
    pub(crate) fn closed_on_stream(&self, ev: &OrderEvent) -> bool {
        self.gone.iter().any(|g| {
            let same = (!ev.order_id.is_empty() && g.order_id == ev.order_id)
                || (!ev.link_id.is_empty() && g.link_id == ev.link_id);
            same && g.as_of == ExchMs(u64::MAX)
        })
    }

    fn add_stray(&mut self, ev: &OrderEvent, filled: Lots, now: u64) {
        if let Some(s) = self.strays.iter_mut().find(|s| !s.active) {
            *s = Stray {
                active: true,
                seen_ns: Some(now),
                ghost: false,
                side: ev.side,
                order_id: ev.order_id,
                link_id: ev.link_id,
                leaves: ev.leaves_qty,
                cum: ev.cum_exec_qty,
                filled,
                cancel_ns: None,
                expires_ns: 0,
            };
        } else {
            // More untracked orders than we can follow: stop and cancel all.
            self.halted = true;
            self.cancel_all_pending = true;
        }
    }

    /// Keeps `qty` of a closed or vanished order in the exposure until its
    /// fills arrive or the grace period ends.
    pub(crate) fn add_ghost(
        &mut self,
        side: Side,
        order_id: &OrderId,
        link_id: &OrderLinkId,
        qty: Lots,
        now: u64,
    ) {
        if qty.0 <= 0 {
            return;
        }
        let expires_ns = now.saturating_add(self.cfg.ack_timeout_ns);
        let ghost = Stray {
            active: true,
            seen_ns: None,
            ghost: true,
            side,
            order_id: *order_id,
            link_id: *link_id,
            leaves: Lots(0),
            cum: qty,
            filled: Lots(0),
            cancel_ns: None,
            expires_ns,
        };
        if let Some(s) = self.strays.iter_mut().find(|s| !s.active) {
            *s = ghost;
        } else if let Some(s) = self.strays.iter_mut().find(|s| s.ghost && s.side == side) {
            // Full: fold into another ghost of the side (matched by time only).
            s.cum += qty;
            s.expires_ns = s.expires_ns.max(expires_ns);
        } else {
            self.halted = true;
            self.cancel_all_pending = true;
        }
    }

    fn post_only_killed(&mut self, side: Side, price: Ticks) {
        let i = si(side);
        self.stats.post_only_replaces += 1;
        self.extra[i] = (self.extra[i] + 1).min(self.cfg.max_post_only_offset);
        let safer = match side {
            Side::Buy => Ticks(price.0.saturating_sub(1)),
            Side::Sell => Ticks(price.0.saturating_add(1)),
        };
        self.replace_cap[i] = Some(match (side, self.replace_cap[i]) {
            (Side::Buy, Some(c)) => c.min(safer),
            (Side::Sell, Some(c)) => c.max(safer),
            (_, None) => safer,
        });
        self.replace_due[i] = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill_at(n: u64) -> Fill {
        let mut exec_id = ExecId::default();
        exec_id.push_u64(n).unwrap();
        Fill {
            exec_id,
            order_id: OrderId::default(),
            link_id: OrderLinkId::default(),
            side: if n.is_multiple_of(2) {
                Side::Buy
            } else {
                Side::Sell
            },
            price: Ticks(100 + (n % 7) as i64),
            qty: Lots(1 + (n % 3) as i64),
            fee: None,
            fee_base_nlots: 0,
            is_maker: true,
            exec_time: ExchMs(1_000 + n),
        }
    }

    /// An engine that cannot drain the journal (its file refuses writes)
    /// must not make decisions allocate: past its capacity the buffer
    /// stops growing, and what it could not hold is counted.
    #[test]
    fn a_journal_nobody_drains_never_grows_past_its_capacity() {
        let mut c = OmsConfig::new(Category::Linear, 1, Lots(10), Lots(1));
        c.journal_capacity = 4 * 1024;
        let mut oms = Oms::new(c).unwrap();
        let cap = oms.journal.capacity();
        for n in 0..200 {
            oms.on_fill(&fill_at(n), n).unwrap();
        }
        assert_eq!(oms.stats().fills, 200, "fills still count");
        assert!(oms.journal().len() <= cap);
        assert_eq!(oms.journal.capacity(), cap, "the buffer was reallocated");
        let dropped = oms.stats().journal_dropped;
        assert!(dropped > 0);
        // Once drained, records are kept again.
        let half = oms.journal().len() / 2;
        oms.consume_journal(half);
        oms.on_fill(&fill_at(1_000), 1_000).unwrap();
        assert_eq!(oms.stats().journal_dropped, dropped);
    }

    #[test]
    fn restore_beyond_dedupe_capacity_ignores_old_replays() {
        // A long journal: more fills than the dedupe set remembers.
        let total = dedupe::DEDUPE_CAPACITY as u64 + 500;
        let mut truth = Pnl::default();
        let mut rec = RecoveredState::default();
        for n in 0..total {
            let f = fill_at(n);
            truth.apply(f.side, f.price, f.qty);
            rec.seen.push((f.exec_id, f.exec_time, false));
        }
        rec.pnl = truth;
        let mut oms = Oms::new(OmsConfig::new(Category::Linear, 1, Lots(10), Lots(1))).unwrap();
        oms.restore(&rec);
        // The exchange replays everything (old and recent) plus one new fill.
        for n in 0..=total {
            let _ = oms.on_fill(&fill_at(n), 0);
        }
        let new = fill_at(total);
        truth.apply(new.side, new.price, new.qty);
        assert_eq!(oms.position(), truth.position);
        assert_eq!(oms.pnl().realised, truth.realised);
        assert_eq!(oms.stats().fills, 1);
        assert_eq!(oms.stats().stale_fills, 500);
    }

    #[test]
    fn config_is_validated() {
        let mut c = OmsConfig::new(Category::Linear, 1, Lots(10), Lots(1));
        assert!(Oms::new(c).is_ok());
        c.min_qty = Lots(0);
        assert_eq!(
            Oms::new(c).err(),
            Some(OmsError::Config("min_qty must be at least one lot"))
        );
    }
}
