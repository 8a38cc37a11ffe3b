//! The exchange side of the backtest: the recorded market book as the
//! exchange held it, our orders in its queues, and Bybit's answers.
//!
//! It takes the order manager's [`Action`]s as the exchange would receive
//! them and answers in the manager's own input types ([`AckEvent`],
//! [`OrderEvent`], [`Fill`]), which the runner delivers after the answer or
//! push latency. The Bybit semantics the engine depends on:
//!
//! - **PostOnly**: a create (or an amend's new price) that would cross the
//!   book is accepted and then cancelled with `EC_PostOnlyWillTakeLiquidity`
//!   (ack `retCode 0`, the `order` push says `Cancelled`), as Bybit does.
//! - **Amend**: a price change, or a quantity increase, sends the order to
//!   the back of its level's queue; a quantity decrease keeps its place. The
//!   new total quantity must exceed what has filled. An order that is gone
//!   answers `110001` (order not exists or too late).
//! - **Fills**: from the recording's trades against our side (queue
//!   position: [`super::queue`]), a trade *through* our price (it would
//!   have taken us first: all of our order fills), and the book crossing our
//!   price (the level we rest at was traded through or emptied beyond us:
//!   all fills). Every fill is a maker fill at our price; fees at the maker
//!   rate, on spot buys in the base coin (Bybit charges a spot buy's fee in
//!   the coin received).
//!
//! Contract: single-threaded and deterministic; allocation only when the
//! answer buffer or the fill log grows; no clock (times are the caller's
//! venue ns).

use crate::book::Book;
use crate::codec::public::BookUpdate;
use crate::ids::{Category, ExecId, OrderId, OrderLinkId};
use crate::oms::{
    AckEvent, AckOp, Action, AmendReq, Fill, OrderEvent, OrderRef, OrderStatus, QueryTicket,
    RejectReason,
};
use crate::replay::TradeEvent;
use crate::time::ExchMs;
use crate::units::{Decimal, Lots, Side, Step, Ticks};

use super::queue::{QueueModel, QueuePos};

/// `retCode` for an order that is gone (Bybit: order not exists or too late).
pub const RET_GONE: i64 = 110001;
/// `retCode` for an amend Bybit refuses (e.g. quantity not above the filled).
pub const RET_BAD_AMEND: i64 = 110003;

/// Venue settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VenueConfig {
    /// Spot or linear (fee currency of buys).
    pub category: Category,
    /// Queue model of our resting orders.
    pub queue: QueueModel,
    /// Maker fee rate (0.0001 = 1 bp; negative = rebate).
    pub maker_fee: f64,
    /// Taker fee rate (PostOnly orders never take; kept for the report).
    pub taker_fee: f64,
    /// Tick size (fees in quote currency).
    pub price_step: Step,
    /// Quantity step.
    pub qty_step: Step,
}

/// Why a fill happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FillCause {
    /// A trade at our price reached us in the queue.
    Queue,
    /// A trade at a worse price for the taker than ours: we were taken first.
    TradeThrough,
    /// The book's other side reached our price.
    BookCross,
}

impl FillCause {
    /// Name for reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            FillCause::Queue => "queue",
            FillCause::TradeThrough => "trade_through",
            FillCause::BookCross => "book_cross",
        }
    }
}

/// One fill of ours, as the exchange made it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FillRecord {
    /// Venue time (ns).
    pub t_ns: u64,
    /// Our side.
    pub side: Side,
    /// Price.
    pub price: Ticks,
    /// Quantity.
    pub qty: Lots,
    /// Fee in quote currency (a base-coin fee valued at the fill price).
    pub fee_quote: f64,
    /// The part of the fee charged in the base coin, in lots (a spot buy's:
    /// those coins never arrive).
    pub fee_base_lots: f64,
    /// Why.
    pub cause: FillCause,
}

/// An answer or push for the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    /// Answer to a request (WS trade / REST channel).
    Ack(AckEvent),
    /// `order` stream push.
    Order(OrderEvent),
    /// `execution` stream push.
    Fill(Fill),
    /// Answer to an open-order query.
    Answer {
        /// The query it answers.
        ticket: QueryTicket,
        /// Our open orders.
        orders: Vec<OrderEvent>,
        /// Exchange time of the snapshot.
        as_of: ExchMs,
    },
}

impl Msg {
    /// Whether it travels on the private stream (push latency) rather than
    /// as a request's answer.
    pub fn is_push(&self) -> bool {
        matches!(self, Msg::Order(_) | Msg::Fill(_))
    }
}

#[derive(Debug, Clone, Copy)]
struct Resting {
    order_id: OrderId,
    link_id: OrderLinkId,
    side: Side,
    price: Ticks,
    qty: Lots,
    cum: Lots,
    queue: QueuePos,
}

impl Resting {
    fn leaves(&self) -> Lots {
        Lots((self.qty.0 - self.cum.0).max(0))
    }
    fn matches(&self, r: &OrderRef) -> bool {
        (!r.order_id.is_empty() && r.order_id == self.order_id)
            || (r.order_id.is_empty() && !r.link_id.is_empty() && r.link_id == self.link_id)
    }
}

/// Counters of what the venue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VenueStats {
    /// Creates received.
    pub creates: u64,
    /// Of which accepted onto the book.
    pub placed: u64,
    /// Creates and amends cancelled for crossing (PostOnly).
    pub post_only_rejects: u64,
    /// Amend items received.
    pub amends: u64,
    /// Cancels received (cancel-all counts once).
    pub cancels: u64,
    /// Requests for orders already gone.
    pub gone: u64,
    /// Orders that had at least one fill.
    pub orders_filled: u64,
}

/// The simulated exchange. See the module docs.
#[derive(Debug, Clone)]
pub struct Venue {
    cfg: VenueConfig,
    book: Book,
    orders: Vec<Resting>,
    next_num: u64,
    next_exec: u64,
    out: Vec<Msg>,
    fills: Vec<FillRecord>,
    quotes: Vec<QuoteChange>,
    stats: VenueStats,
    now: u64,
}

/// Our order on one side changed on the exchange: resting at a price, or
/// gone (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteChange {
    /// Venue time (ns).
    pub t_ns: u64,
    /// Side.
    pub side: Side,
    /// Resting price, or `None` when the side has no order any more.
    pub price: Option<Ticks>,
    /// Resting quantity (0 when gone).
    pub qty: Lots,
}

fn exch_ms(t_ns: u64) -> ExchMs {
    ExchMs(t_ns / 1_000_000)
}

/// `x` as an exact-enough decimal (10 places), for fees.
fn decimal(x: f64) -> Decimal {
    let m = (x * 1e10).round();
    Decimal {
        mantissa: if m.is_finite() {
            m.clamp(i64::MIN as f64, i64::MAX as f64) as i64
        } else {
            0
        },
        scale: 10,
    }
}

impl Venue {
    /// An empty venue.
    pub fn new(cfg: VenueConfig) -> Venue {
        Venue {
            cfg,
            book: Book::new(super::BOOK),
            orders: Vec::with_capacity(8),
            next_num: 1,
            next_exec: 1,
            out: Vec::with_capacity(16),
            fills: Vec::new(),
            quotes: Vec::new(),
            stats: VenueStats::default(),
            now: 0,
        }
    }

    /// The exchange's view of the market.
    pub fn book(&self) -> &Book {
        &self.book
    }
    /// Counters.
    pub fn stats(&self) -> VenueStats {
        self.stats
    }
    /// Every fill so far.
    pub fn fills(&self) -> &[FillRecord] {
        &self.fills
    }
    /// Every change of our resting orders so far.
    pub fn quotes(&self) -> &[QuoteChange] {
        &self.quotes
    }
    /// How many of our orders rest now.
    pub fn open_orders(&self) -> usize {
        self.orders.len()
    }
    /// Lots estimated ahead of our order on `side`, if one rests.
    pub fn queue_ahead(&self, side: Side) -> Option<f64> {
        self.orders
            .iter()
            .find(|o| o.side == side)
            .map(|o| o.queue.ahead)
    }

    /// Takes the answers and pushes produced since the last call (appended
    /// to `into`; an empty `into` trades buffers instead of copying).
    pub fn drain(&mut self, into: &mut Vec<Msg>) {
        if into.is_empty() {
            std::mem::swap(into, &mut self.out);
        } else {
            into.append(&mut self.out);
        }
    }

    /// A recorded book message reaches the exchange at `t_ns`.
    pub fn on_book(&mut self, upd: &BookUpdate<'_>, t_ns: u64) {
        self.now = t_ns;
        let mut prev = [0i64; 8];
        for (p, o) in prev.iter_mut().zip(&self.orders) {
            *p = self.book.qty_at(o.side, o.price).0;
        }
        if self.book.apply(upd).is_err() || !self.book.is_valid() {
            // No trustworthy book until the next snapshot: queues stand still.
            return;
        }
        let model = self.cfg.queue;
        for (p, o) in prev.iter().zip(self.orders.iter_mut()) {
            let new = self.book.qty_at(o.side, o.price).0;
            if new != *p {
                o.queue.on_depth(model, *p, new);
            }
        }
        // The other side at or through our price: we were taken.
        let (bb, ba) = (self.book.best_bid(), self.book.best_ask());
        let mut i = 0;
        while i < self.orders.len() {
            let o = self.orders[i];
            let crossed = match o.side {
                Side::Buy => ba.is_some_and(|a| a.price <= o.price),
                Side::Sell => bb.is_some_and(|b| b.price >= o.price),
            };
            if crossed && self.fill(i, o.leaves(), FillCause::BookCross) {
                continue; // order i is gone; the next one took its place
            }
            i += 1;
        }
    }

    /// A recorded trade reaches the exchange at `t_ns`.
    pub fn on_trade(&mut self, tr: &TradeEvent, t_ns: u64) {
        self.now = t_ns;
        // A Sell taker hits bids; a Buy taker lifts asks.
        let hit = match tr.taker {
            Side::Sell => Side::Buy,
            Side::Buy => Side::Sell,
        };
        let mut i = 0;
        while i < self.orders.len() {
            let o = self.orders[i];
            if o.side != hit {
                i += 1;
                continue;
            }
            let through = match hit {
                Side::Buy => tr.price < o.price,
                Side::Sell => tr.price > o.price,
            };
            let (qty, cause) = if through {
                (o.leaves(), FillCause::TradeThrough)
            } else if tr.price == o.price {
                let leaves = o.leaves().0;
                (
                    Lots(self.orders[i].queue.on_trade(tr.qty.0, leaves)),
                    FillCause::Queue,
                )
            } else {
                (Lots(0), FillCause::Queue)
            };
            if qty.0 > 0 && self.fill(i, qty, cause) {
                continue;
            }
            i += 1;
        }
    }

    /// A request reaches the exchange at `t_ns` (a query's answer needs its
    /// ticket: [`Venue::on_query`]).
    pub fn on_request(&mut self, a: &Action, t_ns: u64) {
        self.now = t_ns;
        match *a {
            Action::Create {
                side,
                price,
                qty,
                link_id,
                ..
            } => self.create(side, price, qty, link_id),
            Action::Amend { req, .. } => self.amend(&req),
            Action::AmendBatch { reqs, .. } => {
                self.amend(&reqs[0]);
                self.amend(&reqs[1]);
            }
            Action::Cancel { order, .. } => {
                self.stats.cancels += 1;
                match self.orders.iter().position(|o| o.matches(&order)) {
                    Some(i) => {
                        let o = self.orders.remove(i);
                        self.ack(AckOp::Cancel, o.link_id, o.order_id, 0);
                        let st = self.closed_status(&o);
                        self.push_order(&o, st, RejectReason::None);
                    }
                    None => {
                        self.stats.gone += 1;
                        self.ack(AckOp::Cancel, order.link_id, order.order_id, RET_GONE);
                    }
                }
            }
            Action::CancelAll => {
                self.stats.cancels += 1;
                let all = std::mem::take(&mut self.orders);
                for o in &all {
                    let st = self.closed_status(o);
                    self.push_order(o, st, RejectReason::None);
                }
                self.ack(
                    AckOp::CancelAll,
                    OrderLinkId::default(),
                    OrderId::default(),
                    0,
                );
            }
            Action::QueryOpenOrders => {}
        }
    }

    /// An open-order query reaches the exchange at `t_ns`.
    pub fn on_query(&mut self, ticket: QueryTicket, t_ns: u64) {
        self.now = t_ns;
        let orders = self
            .orders
            .iter()
            .map(|o| self.event(o, open_status(o), RejectReason::None))
            .collect();
        self.out.push(Msg::Answer {
            ticket,
            orders,
            as_of: exch_ms(t_ns),
        });
    }

    fn create(&mut self, side: Side, price: Ticks, qty: Lots, link_id: OrderLinkId) {
        self.stats.creates += 1;
        let num = self.next_num;
        self.next_num += 1;
        let mut order_id = OrderId::default();
        let _ = order_id.push(b"bt-");
        let _ = order_id.push_u64(num);
        let o = Resting {
            order_id,
            link_id,
            side,
            price,
            qty,
            cum: Lots(0),
            queue: QueuePos::join(self.book.qty_at(side, price).0),
        };
        self.ack(AckOp::Create, link_id, order_id, 0);
        if self.crosses(side, price) {
            self.stats.post_only_rejects += 1;
            self.push_order(
                &o,
                OrderStatus::Cancelled,
                RejectReason::PostOnlyWillTakeLiquidity,
            );
            return;
        }
        self.stats.placed += 1;
        self.push_order(&o, OrderStatus::New, RejectReason::None);
        self.orders.push(o);
    }

    fn amend(&mut self, r: &AmendReq) {
        self.stats.amends += 1;
        let Some(i) = self.orders.iter().position(|o| o.matches(&r.order)) else {
            self.stats.gone += 1;
            self.ack(AckOp::Amend, r.order.link_id, r.order.order_id, RET_GONE);
            return;
        };
        let o = self.orders[i];
        let qty = r.qty.unwrap_or(o.qty);
        if qty.0 <= o.cum.0 || (r.price == o.price && qty == o.qty) {
            self.ack(AckOp::Amend, o.link_id, o.order_id, RET_BAD_AMEND);
            return;
        }
        self.ack(AckOp::Amend, o.link_id, o.order_id, 0);
        let mut n = o;
        n.qty = qty;
        n.price = r.price;
        if r.price != o.price {
            if self.crosses(o.side, r.price) {
                self.stats.post_only_rejects += 1;
                self.orders.remove(i);
                self.push_order(
                    &n,
                    OrderStatus::Cancelled,
                    RejectReason::PostOnlyWillTakeLiquidity,
                );
                return;
            }
            // A new price: the back of the new level's queue.
            n.queue = QueuePos::join(self.book.qty_at(o.side, r.price).0);
        } else if qty > o.qty {
            // More size: the back of the queue.
            n.queue = QueuePos::join(self.book.qty_at(o.side, o.price).0);
        }
        // Less size at the same price keeps its place.
        self.orders[i] = n;
        self.push_order(&n, open_status(&n), RejectReason::None);
    }

    fn crosses(&self, side: Side, price: Ticks) -> bool {
        if !self.book.is_valid() {
            return false;
        }
        match side {
            Side::Buy => self.book.best_ask().is_some_and(|a| price >= a.price),
            Side::Sell => self.book.best_bid().is_some_and(|b| price <= b.price),
        }
    }

    /// Fills `qty` of order `i`; true when that closed (removed) it.
    fn fill(&mut self, i: usize, qty: Lots, cause: FillCause) -> bool {
        let Some(o) = self.orders.get_mut(i) else {
            return false;
        };
        let qty = Lots(qty.0.min(o.leaves().0));
        if qty.0 <= 0 {
            return false;
        }
        if o.cum.0 == 0 {
            self.stats.orders_filled += 1;
        }
        o.cum += qty;
        let o = *o;
        let (price_f, qty_f) = (
            self.cfg.price_step.units() as f64 * o.price.0 as f64
                / 10f64.powi(i32::from(self.cfg.price_step.scale())),
            self.cfg.qty_step.units() as f64 * qty.0 as f64
                / 10f64.powi(i32::from(self.cfg.qty_step.scale())),
        );
        let rate = self.cfg.maker_fee;
        let base_fee = self.cfg.category == Category::Spot && o.side == Side::Buy;
        let (fee, fee_base_nlots, fee_quote) = if base_fee {
            let f = qty_f * rate;
            (
                decimal(f),
                (qty.0 as f64 * rate * 1e9).round() as i64,
                f * price_f,
            )
        } else {
            let f = qty_f * price_f * rate;
            (decimal(f), 0, f)
        };
        let mut exec_id = ExecId::default();
        let _ = exec_id.push(b"bt-");
        let _ = exec_id.push_u64(self.next_exec);
        self.next_exec += 1;
        self.out.push(Msg::Fill(Fill {
            exec_id,
            order_id: o.order_id,
            link_id: o.link_id,
            side: o.side,
            price: o.price,
            qty,
            fee: Some(fee),
            fee_base_nlots,
            is_maker: true,
            exec_time: exch_ms(self.now),
        }));
        self.fills.push(FillRecord {
            t_ns: self.now,
            side: o.side,
            price: o.price,
            qty,
            fee_quote,
            fee_base_lots: fee_base_nlots as f64 / 1e9,
            cause,
        });
        let done = o.leaves().0 == 0;
        let status = if done {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        self.push_order(&o, status, RejectReason::None);
        if done {
            self.orders.remove(i);
        }
        done
    }

    fn ack(&mut self, op: AckOp, link_id: OrderLinkId, order_id: OrderId, ret_code: i64) {
        self.out.push(Msg::Ack(AckEvent {
            op,
            link_id,
            order_id,
            ret_code,
        }));
    }

    fn event(&self, o: &Resting, status: OrderStatus, reject: RejectReason) -> OrderEvent {
        OrderEvent {
            order_id: o.order_id,
            link_id: o.link_id,
            side: o.side,
            price: o.price,
            qty: o.qty,
            leaves_qty: if status.is_open() {
                o.leaves()
            } else {
                Lots(0)
            },
            cum_exec_qty: o.cum,
            status,
            reject_reason: reject,
            updated: exch_ms(self.now),
        }
    }

    fn closed_status(&self, o: &Resting) -> OrderStatus {
        // Bybit: a partly filled spot order cancelled is PartiallyFilledCanceled.
        if o.cum.0 > 0 && self.cfg.category == Category::Spot {
            OrderStatus::PartiallyFilledCanceled
        } else {
            OrderStatus::Cancelled
        }
    }

    fn push_order(&mut self, o: &Resting, status: OrderStatus, reject: RejectReason) {
        let ev = self.event(o, status, reject);
        self.quotes.push(QuoteChange {
            t_ns: self.now,
            side: o.side,
            price: status.is_open().then_some(o.price),
            qty: if status.is_open() {
                o.leaves()
            } else {
                Lots(0)
            },
        });
        self.out.push(Msg::Order(ev));
    }
}

fn open_status(o: &Resting) -> OrderStatus {
    if o.cum.0 > 0 {
        OrderStatus::PartiallyFilled
    } else {
        OrderStatus::New
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::public::{BookKind, Level};
    use crate::ids::{Seq, Symbol, UpdateId};
    use crate::oms::OrderRef;

    fn venue(queue: QueueModel) -> Venue {
        Venue::new(VenueConfig {
            category: Category::Linear,
            queue,
            maker_fee: 0.0002,
            taker_fee: 0.00055,
            price_step: Step::parse("0.1").unwrap(),
            qty_step: Step::parse("0.001").unwrap(),
        })
    }

    /// Applies a book message: `(price, qty)` bids and asks.
    fn book(v: &mut Venue, snapshot: bool, u: u64, bids: &[(i64, i64)], asks: &[(i64, i64)]) {
        let lv = |x: &[(i64, i64)]| -> Vec<Level> {
            x.iter()
                .map(|&(p, q)| Level {
                    price: Ticks(p),
                    qty: Lots(q),
                })
                .collect()
        };
        let (b, a) = (lv(bids), lv(asks));
        let upd = BookUpdate {
            kind: if snapshot {
                BookKind::Snapshot
            } else {
                BookKind::Delta
            },
            depth: 50,
            symbol: Symbol::new(b"BTCUSDT").unwrap(),
            u: UpdateId(u),
            seq: Seq(u),
            ts: ExchMs(u),
            cts: None,
            bids: &b,
            asks: &a,
        };
        v.on_book(&upd, u * 1_000_000);
    }

    fn link(s: &str) -> OrderLinkId {
        OrderLinkId::new(s.as_bytes()).unwrap()
    }

    fn create(v: &mut Venue, side: Side, price: i64, qty: i64, l: &str) {
        v.on_request(
            &Action::Create {
                side,
                price: Ticks(price),
                qty: Lots(qty),
                link_id: link(l),
                trigger_u: UpdateId(0),
            },
            0,
        );
    }

    fn amend(v: &mut Venue, side: Side, l: &str, price: i64, qty: Option<i64>) {
        v.on_request(
            &Action::Amend {
                req: AmendReq {
                    side,
                    order: OrderRef {
                        order_id: OrderId::default(),
                        link_id: link(l),
                    },
                    price: Ticks(price),
                    qty: qty.map(Lots),
                },
                trigger_u: UpdateId(0),
            },
            0,
        );
    }

    fn sell_taker(v: &mut Venue, price: i64, qty: i64) {
        v.on_trade(
            &TradeEvent {
                taker: Side::Sell,
                price: Ticks(price),
                qty: Lots(qty),
            },
            0,
        );
    }

    fn drained(v: &mut Venue) -> Vec<Msg> {
        let mut out = Vec::new();
        v.drain(&mut out);
        out
    }

    #[test]
    fn a_post_only_create_that_would_cross_is_accepted_then_cancelled() {
        let mut v = venue(QueueModel::RiskAverse);
        book(&mut v, true, 1, &[(100, 5)], &[(101, 5)]);
        create(&mut v, Side::Buy, 101, 1, "b1");
        let m = drained(&mut v);
        assert!(matches!(&m[0], Msg::Ack(a) if a.ret_code == 0 && a.op == AckOp::Create));
        assert!(
            matches!(&m[1], Msg::Order(o) if o.status == OrderStatus::Cancelled
            && o.reject_reason == RejectReason::PostOnlyWillTakeLiquidity)
        );
        assert_eq!(v.open_orders(), 0);
        assert_eq!(v.stats().post_only_rejects, 1);
        // One tick safer rests.
        create(&mut v, Side::Buy, 100, 1, "b2");
        assert_eq!(v.open_orders(), 1);
        assert!(matches!(drained(&mut v)[1], Msg::Order(o) if o.status == OrderStatus::New));
    }

    #[test]
    fn an_amend_onto_the_other_side_is_cancelled_post_only() {
        let mut v = venue(QueueModel::RiskAverse);
        book(&mut v, true, 1, &[(100, 5)], &[(102, 5)]);
        create(&mut v, Side::Sell, 103, 1, "s1");
        drained(&mut v);
        amend(&mut v, Side::Sell, "s1", 100, None);
        let m = drained(&mut v);
        assert!(
            matches!(&m[1], Msg::Order(o) if o.status == OrderStatus::Cancelled
            && o.reject_reason == RejectReason::PostOnlyWillTakeLiquidity)
        );
        assert_eq!(v.open_orders(), 0);
    }

    #[test]
    fn an_amend_keeps_its_place_only_when_it_shrinks_at_the_same_price() {
        let mut v = venue(QueueModel::RiskAverse);
        book(&mut v, true, 1, &[(100, 5)], &[(102, 5)]);
        create(&mut v, Side::Buy, 100, 4, "b");
        assert_eq!(v.queue_ahead(Side::Buy), Some(5.0));
        // 3 more join behind us, then 4 trade: 1 ahead is left.
        book(&mut v, false, 2, &[(100, 8)], &[]);
        sell_taker(&mut v, 100, 4);
        assert_eq!(v.queue_ahead(Side::Buy), Some(1.0));
        // Less size: same place.
        amend(&mut v, Side::Buy, "b", 100, Some(3));
        assert_eq!(v.queue_ahead(Side::Buy), Some(1.0));
        // More size: the back of the level (all 4 others now ahead).
        book(&mut v, false, 3, &[(100, 4)], &[]);
        amend(&mut v, Side::Buy, "b", 100, Some(5));
        assert_eq!(v.queue_ahead(Side::Buy), Some(4.0));
        // A price change: the back of the new level.
        book(&mut v, false, 4, &[(99, 7)], &[]);
        amend(&mut v, Side::Buy, "b", 99, None);
        assert_eq!(v.queue_ahead(Side::Buy), Some(7.0));
        // Unchanged price and size is refused.
        drained(&mut v);
        amend(&mut v, Side::Buy, "b", 99, Some(5));
        assert!(matches!(drained(&mut v)[0], Msg::Ack(a) if a.ret_code == RET_BAD_AMEND));
    }

    #[test]
    fn fills_come_from_the_queue_trades_through_and_the_book_crossing() {
        let mut v = venue(QueueModel::RiskAverse);
        book(&mut v, true, 1, &[(100, 5)], &[(102, 5)]);
        create(&mut v, Side::Buy, 100, 4, "q");
        drained(&mut v);
        // 7 traded at our price: 5 ahead, 2 of ours.
        sell_taker(&mut v, 100, 7);
        let m = drained(&mut v);
        assert!(
            matches!(&m[0], Msg::Fill(f) if f.qty == Lots(2) && f.price == Ticks(100) && f.is_maker)
        );
        assert!(
            matches!(&m[1], Msg::Order(o) if o.status == OrderStatus::PartiallyFilled && o.leaves_qty == Lots(2))
        );
        // A trade below our price: we were taken first, all of it.
        sell_taker(&mut v, 99, 1);
        let m = drained(&mut v);
        assert!(matches!(&m[0], Msg::Fill(f) if f.qty == Lots(2)));
        assert!(matches!(&m[1], Msg::Order(o) if o.status == OrderStatus::Filled));
        // The others' bids at 100 gone and an ask down at our bid: filled.
        create(&mut v, Side::Buy, 100, 3, "x");
        drained(&mut v);
        book(&mut v, false, 2, &[(100, 0), (99, 2)], &[(100, 1)]);
        assert!(matches!(drained(&mut v)[0], Msg::Fill(f) if f.qty == Lots(3)));
        let causes: Vec<FillCause> = v.fills().iter().map(|f| f.cause).collect();
        assert_eq!(
            causes,
            [
                FillCause::Queue,
                FillCause::TradeThrough,
                FillCause::BookCross
            ]
        );
        // Fee: 0.0002 × 100 × 0.1 × 2 × 0.001 (linear: quote currency).
        assert!((v.fills()[0].fee_quote - 0.0002 * 10.0 * 0.002).abs() < 1e-15);
    }

    #[test]
    fn a_cancel_of_an_order_gone_answers_order_not_exists() {
        let mut v = venue(QueueModel::RiskAverse);
        book(&mut v, true, 1, &[(100, 5)], &[(102, 5)]);
        v.on_request(
            &Action::Cancel {
                side: Side::Buy,
                order: OrderRef {
                    order_id: OrderId::default(),
                    link_id: link("nope"),
                },
                trigger_u: UpdateId(0),
            },
            0,
        );
        assert!(matches!(drained(&mut v)[0], Msg::Ack(a) if a.ret_code == RET_GONE));
    }
}
