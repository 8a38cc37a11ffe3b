//! The per-side order slot and its explicit state machine.
//!
//! ```text
//!            create                order stream New/PartiallyFilled
//!   Empty ───────────► PendingNew ───────────────────────────────► Working
//!     ▲                   │  reject / terminal                    │  ▲  │
//!     └───────────────────┘                                       │  │  │ amend
//!     ▲             terminal (Filled, Cancelled, ...)            │  │  ▼
//!     ├───────────────────────────────────────────────────────────┘  PendingAmend
//!     │                                                        confirmed (price & qty match)
//!     │  terminal          cancel
//!     └──────── PendingCancel ◄──────── Working | PendingNew | PendingAmend
//!
//!   any Pending* ── trade/private link lost or no confirmation in time ──► Unknown
//!   Unknown ── order stream or open-order snapshot ──► Working | Empty
//! ```
//!
//! Transitions are driven by the private `order` stream, fills and open-order
//! snapshots. A request acknowledgement (`retCode 0`) only records the order
//! id: Bybit says an ack means "accepted", not "resting", so an ack never makes
//! an order `Working`. A definite rejection in an ack undoes the request (the
//! order is as before); an ack whose outcome is itself uncertain (timeouts,
//! "order is processing") makes the slot `Unknown`, to be reconciled by an
//! open-order query — never assumed rejected (nautilus #3820).
//!
//! Contract: plain data, no allocation, no panic, no clock reads (`now` is the
//! caller's monotonic nanoseconds).

use crate::ids::{OrderId, OrderLinkId};
use crate::time::ExchMs;
use crate::units::{Lots, Side, Ticks};

/// Bybit `orderStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Resting, nothing filled.
    New,
    /// Resting, partly filled.
    PartiallyFilled,
    /// Conditional order waiting for its trigger (open).
    Untriggered,
    /// Fully filled (closed).
    Filled,
    /// Cancelled (closed; derivatives may have `cumExecQty > 0`).
    Cancelled,
    /// Rejected (closed).
    Rejected,
    /// Spot: partly filled then cancelled (closed).
    PartiallyFilledCanceled,
    /// Spot TP/SL/conditional cancelled before trigger (closed).
    Deactivated,
    /// Conditional order triggered (transient; treated as open).
    Triggered,
}

impl OrderStatus {
    /// Parses Bybit's spelling; `None` for anything else.
    pub fn parse(s: &[u8]) -> Option<OrderStatus> {
        Some(match s {
            b"New" => OrderStatus::New,
            b"PartiallyFilled" => OrderStatus::PartiallyFilled,
            b"Untriggered" => OrderStatus::Untriggered,
            b"Filled" => OrderStatus::Filled,
            b"Cancelled" => OrderStatus::Cancelled,
            b"Rejected" => OrderStatus::Rejected,
            b"PartiallyFilledCanceled" => OrderStatus::PartiallyFilledCanceled,
            b"Deactivated" => OrderStatus::Deactivated,
            b"Triggered" => OrderStatus::Triggered,
            _ => return None,
        })
    }

    /// Bybit's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "New",
            OrderStatus::PartiallyFilled => "PartiallyFilled",
            OrderStatus::Untriggered => "Untriggered",
            OrderStatus::Filled => "Filled",
            OrderStatus::Cancelled => "Cancelled",
            OrderStatus::Rejected => "Rejected",
            OrderStatus::PartiallyFilledCanceled => "PartiallyFilledCanceled",
            OrderStatus::Deactivated => "Deactivated",
            OrderStatus::Triggered => "Triggered",
        }
    }

    /// Whether the order can still trade.
    pub const fn is_open(self) -> bool {
        matches!(
            self,
            OrderStatus::New
                | OrderStatus::PartiallyFilled
                | OrderStatus::Untriggered
                | OrderStatus::Triggered
        )
    }
}

/// The part of Bybit's `rejectReason` the order manager acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RejectReason {
    /// `EC_NoError` or empty.
    #[default]
    None,
    /// `EC_PostOnlyWillTakeLiquidity`: a PostOnly order would have crossed.
    PostOnlyWillTakeLiquidity,
    /// Anything else.
    Other,
}

impl RejectReason {
    /// Maps Bybit's spelling.
    pub fn parse(s: &[u8]) -> RejectReason {
        match s {
            b"" | b"EC_NoError" => RejectReason::None,
            b"EC_PostOnlyWillTakeLiquidity" => RejectReason::PostOnlyWillTakeLiquidity,
            _ => RejectReason::Other,
        }
    }
}

/// One order update from the private `order` stream (or one row of an
/// open-order query, which has the same fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderEvent {
    /// `orderId`.
    pub order_id: OrderId,
    /// `orderLinkId` (may be empty for orders placed without one).
    pub link_id: OrderLinkId,
    /// `side`.
    pub side: Side,
    /// `price` in ticks.
    pub price: Ticks,
    /// `qty`: total order quantity.
    pub qty: Lots,
    /// `leavesQty` (`""` maps to zero).
    pub leaves_qty: Lots,
    /// `cumExecQty`.
    pub cum_exec_qty: Lots,
    /// `orderStatus`.
    pub status: OrderStatus,
    /// `rejectReason`.
    pub reject_reason: RejectReason,
    /// `updatedTime`.
    pub updated: ExchMs,
}

impl OrderEvent {
    /// Checks the quantities and price make sense; a typed reason if not.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.qty.0 < 0 || self.leaves_qty.0 < 0 || self.cum_exec_qty.0 < 0 {
            return Err("order event has a negative quantity");
        }
        if self.status.is_open() && self.price.0 <= 0 {
            return Err("open order event has a non-positive price");
        }
        if self.order_id.is_empty() && self.link_id.is_empty() {
            return Err("order event has neither orderId nor orderLinkId");
        }
        Ok(())
    }
}

/// Where a side's order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OrderState {
    /// No order on this side.
    #[default]
    Empty,
    /// Create sent; not yet seen on the order stream.
    PendingNew,
    /// Confirmed resting by the order stream (or an open-order snapshot).
    Working,
    /// Amend sent on a working order; not yet confirmed.
    PendingAmend,
    /// Cancel sent; the order may still trade until the stream says it is gone.
    PendingCancel,
    /// The outcome of an in-flight request is unknown; reconcile by query.
    Unknown,
}

/// A request whose outcome is awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `order.create`.
    Create,
    /// `order.amend` (single or batch).
    Amend,
    /// `order.cancel`.
    Cancel,
}

/// How a request's acknowledgement is to be read, from its `retCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckOutcome {
    /// `0`: accepted by the gateway (not yet resting or amended).
    Accepted,
    /// Definitely refused; the order is as before the request.
    Rejected,
    /// Refused by a rate limit (`10006`, `10429`, `170005`, `170222`, ...).
    RateLimited,
    /// The order no longer exists (filled or cancelled already).
    OrderGone,
    /// The request may or may not have been applied (timeouts, "processing").
    Uncertain,
    /// Spot LIMIT-MAKER / PostOnly refused synchronously (`170217`, `170218`).
    PostOnlyRejected,
}

impl AckOutcome {
    /// Classifies a Bybit `retCode` (protocol.md §4.2, §6).
    pub fn classify(ret_code: i64) -> AckOutcome {
        match ret_code {
            0 => AckOutcome::Accepted,
            10006 | 10429 | 10403 | 170005 | 170222 | 20003 => AckOutcome::RateLimited,
            110001 | 110008 | 110010 | 170213 | 170139 | 170142 | 170143 | 170190 => {
                AckOutcome::OrderGone
            }
            10000 | 10016 | 110079 | 40004 | 170007 | 170146 | 170147 | 170310 | 170212 => {
                AckOutcome::Uncertain
            }
            170217 | 170218 => AckOutcome::PostOnlyRejected,
            _ => AckOutcome::Rejected,
        }
    }
}

/// One side's order: at most one per side, pending creates included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderSlot {
    /// State machine position.
    pub state: OrderState,
    /// The side this slot quotes.
    pub side: Side,
    /// Our client id (set at create or adoption).
    pub link_id: OrderLinkId,
    /// Exchange id once known (from an ack, the order stream or a snapshot).
    pub order_id: OrderId,
    /// Price as last confirmed (or as requested while `PendingNew`).
    pub price: Ticks,
    /// Total order quantity as last confirmed (or requested).
    pub qty: Lots,
    /// Quantity executed so far (order stream or fills, whichever knows more).
    pub cum_exec: Lots,
    /// Quantity whose fills have reached the position.
    pub filled: Lots,
    /// Quantity still resting.
    pub leaves: Lots,
    /// Requested price of the amend in flight.
    pub amend_price: Ticks,
    /// Requested total quantity of the amend in flight.
    pub amend_qty: Lots,
    /// The request whose outcome is awaited, if any.
    pub inflight: Option<Op>,
    /// State to return to if a cancel is definitely refused.
    pub prior: OrderState,
    /// When the in-flight request was sent (monotonic ns).
    pub req_ns: u64,
    /// When the order stream last reported this order open (monotonic ns;
    /// 0 = never). An open-order snapshot the exchange may have taken before
    /// that report cannot prove the order gone.
    pub seen_ns: Option<u64>,
    /// Exchange `updatedTime` of the newest order version applied; older
    /// versions (an event queued before a snapshot) never overwrite it.
    pub updated: ExchMs,
}

/// What an order-stream event did to a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotChange {
    /// Fields updated, state unchanged.
    Updated,
    /// Became (or stayed) confirmed `Working` after a pending request.
    Confirmed,
    /// The order is closed; the slot is empty.
    Closed {
        /// Closed as `Cancelled` with `EC_PostOnlyWillTakeLiquidity`.
        post_only: bool,
        /// The price the exchange refused or last held.
        price: Ticks,
        /// Executed quantity whose fills have not arrived yet.
        unsettled: Lots,
    },
}

impl OrderSlot {
    /// An empty slot for `side`.
    pub fn empty(side: Side) -> OrderSlot {
        OrderSlot {
            state: OrderState::Empty,
            side,
            link_id: OrderLinkId::default(),
            order_id: OrderId::default(),
            price: Ticks(0),
            qty: Lots(0),
            cum_exec: Lots(0),
            filled: Lots(0),
            leaves: Lots(0),
            amend_price: Ticks(0),
            amend_qty: Lots(0),
            inflight: None,
            prior: OrderState::Empty,
            req_ns: 0,
            seen_ns: None,
            updated: ExchMs(0),
        }
    }

    /// Whether the slot holds an order (pending or working).
    pub fn is_live(&self) -> bool {
        self.state != OrderState::Empty
    }

    /// Executed quantity whose fills have not reached the position yet (the
    /// order stream can be ahead of the execution streams).
    pub fn unsettled(&self) -> Lots {
        Lots(self.cum_exec.0.saturating_sub(self.filled.0).max(0))
    }

    /// Worst-case quantity this order may still add to the position: its
    /// leaves (or the amended leaves if an amend in flight could raise them)
    /// plus executions not yet seen as fills.
    pub fn exposure(&self) -> Lots {
        if self.state == OrderState::Empty {
            return Lots(0);
        }
        let mut e = self.leaves.0.max(0);
        if self.inflight == Some(Op::Amend) {
            e = e.max(self.amend_qty.0.saturating_sub(self.cum_exec.0));
        }
        Lots(e.saturating_add(self.unsettled().0))
    }

    /// Whether an event or fill with these ids is for this order.
    pub fn matches(&self, order_id: &OrderId, link_id: &OrderLinkId) -> bool {
        self.is_live()
            && ((!order_id.is_empty() && self.order_id == *order_id)
                || (!link_id.is_empty() && self.link_id == *link_id))
    }

    /// Create sent.
    pub fn start_create(&mut self, link_id: OrderLinkId, price: Ticks, qty: Lots, now: u64) {
        *self = OrderSlot::empty(self.side);
        self.state = OrderState::PendingNew;
        self.link_id = link_id;
        self.price = price;
        self.qty = qty;
        self.leaves = qty;
        self.inflight = Some(Op::Create);
        self.req_ns = now;
    }

    /// Amend sent (`qty` is the new total order quantity).
    pub fn start_amend(&mut self, price: Ticks, qty: Lots, now: u64) {
        self.state = OrderState::PendingAmend;
        self.amend_price = price;
        self.amend_qty = qty;
        self.inflight = Some(Op::Amend);
        self.req_ns = now;
    }

    /// Cancel sent.
    pub fn start_cancel(&mut self, now: u64) {
        self.prior = self.state;
        self.state = OrderState::PendingCancel;
        // A cancel supersedes an amend in flight, but the amend may still land:
        // keep its quantity in the exposure until the order is gone.
        if self.inflight != Some(Op::Amend) {
            self.inflight = Some(Op::Cancel);
        }
        self.req_ns = now;
    }

    /// Makes the slot `Unknown` if a request is in flight.
    pub fn lose_track(&mut self) -> bool {
        match self.state {
            OrderState::PendingNew | OrderState::PendingAmend | OrderState::PendingCancel => {
                self.state = OrderState::Unknown;
                true
            }
            _ => false,
        }
    }

    /// Takes the exchange's view of an open order (order stream or snapshot),
    /// unless it is older than the version already applied.
    pub fn take_fields(&mut self, ev: &OrderEvent) {
        if !ev.order_id.is_empty() {
            self.order_id = ev.order_id;
        }
        if ev.updated < self.updated {
            return;
        }
        self.updated = ev.updated;
        self.price = ev.price;
        self.qty = ev.qty;
        if ev.cum_exec_qty.0 >= self.cum_exec.0 {
            self.cum_exec = ev.cum_exec_qty;
            self.leaves = ev.leaves_qty;
        } else {
            // Faster fills already counted more than this event shows.
            self.leaves = Lots(
                ev.qty
                    .0
                    .saturating_sub(self.cum_exec.0)
                    .max(0)
                    .min(ev.leaves_qty.0.max(0)),
            );
        }
    }

    /// Applies an order-stream event known to be for this slot.
    pub fn on_event(&mut self, ev: &OrderEvent) -> SlotChange {
        if !ev.status.is_open() {
            let post_only = ev.status == OrderStatus::Cancelled
                && ev.reject_reason == RejectReason::PostOnlyWillTakeLiquidity;
            let cum = self.cum_exec.0.max(ev.cum_exec_qty.0);
            let unsettled = Lots(cum.saturating_sub(self.filled.0).max(0));
            *self = OrderSlot::empty(self.side);
            return SlotChange::Closed {
                post_only,
                price: ev.price,
                unsettled,
            };
        }
        let amend_landed = ev.price == self.amend_price && ev.qty == self.amend_qty;
        self.take_fields(ev);
        match self.state {
            OrderState::PendingNew | OrderState::Working => {
                let was_pending = self.state == OrderState::PendingNew;
                self.state = OrderState::Working;
                self.inflight = None;
                if was_pending {
                    SlotChange::Confirmed
                } else {
                    SlotChange::Updated
                }
            }
            OrderState::PendingAmend if amend_landed => {
                self.state = OrderState::Working;
                self.inflight = None;
                SlotChange::Confirmed
            }
            OrderState::Unknown
                if self.inflight == Some(Op::Create)
                    || self.inflight.is_none()
                    || (self.inflight == Some(Op::Amend) && amend_landed) =>
            {
                self.state = OrderState::Working;
                self.inflight = None;
                SlotChange::Confirmed
            }
            _ => SlotChange::Updated,
        }
    }

    /// Applies a fill of `qty`; returns `true` if the order is now fully filled
    /// (the slot is then empty).
    pub fn on_fill(&mut self, qty: Lots) -> bool {
        self.filled += qty;
        if self.filled.0 > self.cum_exec.0 {
            // The fill is news: the order stream has not reported it yet.
            let d = self.filled.0.saturating_sub(self.cum_exec.0);
            self.cum_exec = self.filled;
            self.leaves = Lots(self.leaves.0.saturating_sub(d).max(0));
        }
        let amend_left = if self.inflight == Some(Op::Amend) {
            self.amend_qty.0.saturating_sub(self.cum_exec.0)
        } else {
            0
        };
        if self.leaves.0 == 0 && amend_left <= 0 && self.unsettled().0 == 0 {
            *self = OrderSlot::empty(self.side);
            return true;
        }
        false
    }

    /// Applies the acknowledgement of `op`; returns `true` if the slot is now
    /// `Unknown` and needs a query.
    pub fn on_ack(&mut self, op: Op, outcome: AckOutcome, order_id: &OrderId) -> bool {
        if !order_id.is_empty() && self.order_id.is_empty() {
            self.order_id = *order_id;
        }
        let inflight_matches = match (self.state, op) {
            (OrderState::PendingNew, Op::Create)
            | (OrderState::PendingAmend, Op::Amend)
            | (OrderState::PendingCancel, Op::Cancel) => true,
            (OrderState::PendingCancel, Op::Amend) => self.inflight == Some(Op::Amend),
            (OrderState::Unknown, _) => self.inflight == Some(op),
            _ => false,
        };
        if !inflight_matches {
            return false;
        }
        match outcome {
            AckOutcome::Accepted => false,
            AckOutcome::Rejected | AckOutcome::RateLimited | AckOutcome::PostOnlyRejected => {
                match op {
                    Op::Create => *self = OrderSlot::empty(self.side),
                    Op::Amend => {
                        self.inflight = None;
                        if self.state != OrderState::PendingCancel {
                            self.state = OrderState::Working;
                        }
                    }
                    Op::Cancel => {
                        self.inflight = None;
                        self.state = match self.prior {
                            OrderState::PendingNew | OrderState::Unknown => OrderState::Unknown,
                            OrderState::PendingAmend => OrderState::Unknown,
                            _ => OrderState::Working,
                        };
                        return self.state == OrderState::Unknown;
                    }
                }
                false
            }
            AckOutcome::OrderGone | AckOutcome::Uncertain => {
                self.state = OrderState::Unknown;
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(s: &str) -> OrderLinkId {
        OrderLinkId::from_str(s).unwrap()
    }

    fn ev(
        oid: &OrderId,
        status: OrderStatus,
        price: i64,
        qty: i64,
        leaves: i64,
        cum: i64,
    ) -> OrderEvent {
        OrderEvent {
            order_id: *oid,
            link_id: OrderLinkId::default(),
            side: Side::Buy,
            price: Ticks(price),
            qty: Lots(qty),
            leaves_qty: Lots(leaves),
            cum_exec_qty: Lots(cum),
            status,
            reject_reason: RejectReason::None,
            updated: ExchMs(0),
        }
    }

    #[test]
    fn ack_alone_never_confirms() {
        let mut s = OrderSlot::empty(Side::Buy);
        s.start_create(link("gm000001-1-1"), Ticks(100), Lots(5), 0);
        let oid = OrderId::from_str("42").unwrap();
        assert!(!s.on_ack(Op::Create, AckOutcome::Accepted, &oid));
        assert_eq!(s.state, OrderState::PendingNew);
        assert_eq!(s.order_id, oid);
        let c = s.on_event(&ev(&oid, OrderStatus::New, 100, 5, 5, 0));
        assert_eq!(c, SlotChange::Confirmed);
        assert_eq!(s.state, OrderState::Working);
    }

    #[test]
    fn amend_confirms_only_when_the_new_values_show() {
        let mut s = OrderSlot::empty(Side::Sell);
        let oid = OrderId::from_str("7").unwrap();
        s.start_create(link("gm000001-1-1"), Ticks(100), Lots(5), 0);
        s.on_event(&ev(&oid, OrderStatus::New, 100, 5, 5, 0));
        s.start_amend(Ticks(101), Lots(8), 1);
        assert_eq!(s.exposure(), Lots(8));
        // A partial fill at the old price first: still pending.
        let c = s.on_event(&ev(&oid, OrderStatus::PartiallyFilled, 100, 5, 3, 2));
        assert_eq!(c, SlotChange::Updated);
        assert_eq!(s.state, OrderState::PendingAmend);
        let c = s.on_event(&ev(&oid, OrderStatus::PartiallyFilled, 101, 8, 6, 2));
        assert_eq!(c, SlotChange::Confirmed);
        assert_eq!((s.price, s.leaves), (Ticks(101), Lots(6)));
    }

    #[test]
    fn uncertain_amend_ack_goes_unknown_not_rejected() {
        let mut s = OrderSlot::empty(Side::Buy);
        let oid = OrderId::from_str("7").unwrap();
        s.start_create(link("gm000001-1-1"), Ticks(100), Lots(5), 0);
        s.on_event(&ev(&oid, OrderStatus::New, 100, 5, 5, 0));
        s.start_amend(Ticks(99), Lots(5), 1);
        assert!(s.on_ack(Op::Amend, AckOutcome::classify(170310), &oid));
        assert_eq!(s.state, OrderState::Unknown);
        // A definite rejection instead returns to Working with the old price.
        let mut t = s;
        t.state = OrderState::PendingAmend;
        assert!(!t.on_ack(Op::Amend, AckOutcome::classify(110003), &oid));
        assert_eq!((t.state, t.price), (OrderState::Working, Ticks(100)));
    }

    #[test]
    fn stale_event_does_not_undo_faster_fills() {
        let mut s = OrderSlot::empty(Side::Buy);
        let oid = OrderId::from_str("7").unwrap();
        s.start_create(link("gm000001-1-1"), Ticks(100), Lots(10), 0);
        s.order_id = oid;
        assert!(!s.on_fill(Lots(3)));
        s.on_event(&ev(&oid, OrderStatus::New, 100, 10, 10, 0));
        assert_eq!((s.cum_exec, s.leaves), (Lots(3), Lots(7)));
        assert!(s.on_fill(Lots(7)));
        assert_eq!(s.state, OrderState::Empty);
    }

    #[test]
    fn statuses_parse() {
        for st in [
            "New",
            "PartiallyFilled",
            "Filled",
            "Cancelled",
            "Rejected",
            "PartiallyFilledCanceled",
            "Deactivated",
            "Untriggered",
            "Triggered",
        ] {
            assert_eq!(
                OrderStatus::parse(st.as_bytes()).map(|s| s.as_str()),
                Some(st)
            );
        }
        assert_eq!(OrderStatus::parse(b"new"), None);
        assert_eq!(
            RejectReason::parse(b"EC_PostOnlyWillTakeLiquidity"),
            RejectReason::PostOnlyWillTakeLiquidity
        );
    }
}
