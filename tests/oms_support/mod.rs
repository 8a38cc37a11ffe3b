//! Shared helpers for the order-manager tests: builders and a small
//! allocation-free simulated exchange that answers the order manager's
//! actions with acks, order-stream events and fills.
#![allow(dead_code)]

use gapmm::ids::{Category, ExecId, OrderId, OrderLinkId, UpdateId};
use gapmm::oms::{
    AckEvent, AckOp, Action, Fill, Oms, OmsConfig, OrderEvent, OrderStatus, RejectReason, Target,
};
use gapmm::time::ExchMs;
use gapmm::units::{Decimal, Lots, Side, Ticks};

pub const MS: u64 = 1_000_000;

pub fn cfg(max: i64) -> OmsConfig {
    OmsConfig::new(Category::Linear, 4242, Lots(max), Lots(1))
}

/// A ready order manager (start-up snapshot empty).
pub fn ready(cfg: OmsConfig) -> Oms {
    let mut o = Oms::new(cfg).unwrap();
    assert!(o.adopt_open_orders(&[], 0).is_empty());
    o
}

pub fn tgt(
    bid: Option<i64>,
    ask: Option<i64>,
    qty: i64,
    touch: (i64, i64),
    u: u64,
    now: u64,
) -> Target {
    Target {
        bid: bid.map(Ticks),
        ask: ask.map(Ticks),
        qty: Lots(qty),
        touch: (Ticks(touch.0), Ticks(touch.1)),
        trigger_u: UpdateId(u),
        now,
    }
}

pub fn oid(n: u64) -> OrderId {
    let mut s = OrderId::default();
    s.push(b"oid-").unwrap();
    s.push_u64(n).unwrap();
    s
}

pub fn link(s: &str) -> OrderLinkId {
    OrderLinkId::from_str(s).unwrap()
}

#[allow(clippy::too_many_arguments)] // mirrors the event's fields one to one
pub fn ev(
    order_id: OrderId,
    link_id: OrderLinkId,
    side: Side,
    status: OrderStatus,
    price: i64,
    qty: i64,
    leaves: i64,
    cum: i64,
) -> OrderEvent {
    OrderEvent {
        order_id,
        link_id,
        side,
        price: Ticks(price),
        qty: Lots(qty),
        leaves_qty: Lots(leaves),
        cum_exec_qty: Lots(cum),
        status,
        reject_reason: RejectReason::None,
        updated: ExchMs(1),
    }
}

pub fn fill(
    exec: u64,
    order_id: OrderId,
    link_id: OrderLinkId,
    side: Side,
    price: i64,
    qty: i64,
    fee: Option<&str>,
) -> Fill {
    let mut exec_id = ExecId::default();
    exec_id.push(b"x-").unwrap();
    exec_id.push_u64(exec).unwrap();
    Fill {
        exec_id,
        order_id,
        link_id,
        side,
        price: Ticks(price),
        qty: Lots(qty),
        fee: fee.map(|f| Decimal::parse(f.as_bytes()).unwrap()),
        fee_base_nlots: 0,
        is_maker: true,
        exec_time: ExchMs(1_700_000_000_000 + exec),
    }
}

/// The creates in a list of actions.
pub fn creates(a: &[Action]) -> Vec<(Side, Ticks, Lots, OrderLinkId)> {
    a.iter()
        .filter_map(|x| match *x {
            Action::Create {
                side,
                price,
                qty,
                link_id,
                ..
            } => Some((side, price, qty, link_id)),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Simulated exchange (fixed capacity, no allocation after construction).

pub const SIM_ORDERS: usize = 16;
pub const SIM_QUEUE: usize = 256;

#[derive(Debug, Clone, Copy)]
pub struct SimOrder {
    pub live: bool,
    pub order_id: OrderId,
    pub link_id: OrderLinkId,
    pub side: Side,
    pub price: i64,
    pub qty: i64,
    pub cum: i64,
    pub updated: u64,
}

#[derive(Debug, Clone, Copy)]
pub enum Delivery {
    Order(OrderEvent),
    Fill(Fill),
    Ack(AckEvent),
}

/// An exchange that processes each request the moment it is sent and queues
/// its acks, order events and fills for later delivery (FIFO, like one
/// connection per stream).
pub struct Sim {
    pub orders: [SimOrder; SIM_ORDERS],
    queue: [Option<Delivery>; SIM_QUEUE],
    head: usize,
    len: usize,
    pub position: i64,
    pub touch: (i64, i64),
    next_oid: u64,
    next_exec: u64,
    pub post_only_kills: u64,
    clock_ms: u64,
}

impl Sim {
    pub fn new(touch: (i64, i64)) -> Sim {
        Sim {
            orders: [SimOrder {
                live: false,
                order_id: OrderId::default(),
                link_id: OrderLinkId::default(),
                side: Side::Buy,
                price: 0,
                qty: 0,
                cum: 0,
                updated: 0,
            }; SIM_ORDERS],
            queue: [None; SIM_QUEUE],
            head: 0,
            len: 0,
            position: 0,
            touch,
            next_oid: 1,
            next_exec: 1,
            post_only_kills: 0,
            clock_ms: 1,
        }
    }

    /// The exchange clock (ms), as a query response's `time`.
    pub fn clock(&self) -> ExchMs {
        ExchMs(self.clock_ms)
    }

    pub fn pending(&self) -> usize {
        self.len
    }

    /// Whether a fill is still queued (the manager's position lags until then).
    pub fn fills_queued(&self) -> bool {
        (0..self.len).any(|k| {
            matches!(
                self.queue[(self.head + k) % SIM_QUEUE],
                Some(Delivery::Fill(_))
            )
        })
    }

    fn push(&mut self, d: Delivery) {
        if self.len < SIM_QUEUE {
            self.queue[(self.head + self.len) % SIM_QUEUE] = Some(d);
            self.len += 1;
        }
    }

    /// Removes and returns the next delivery.
    pub fn pop(&mut self) -> Option<Delivery> {
        if self.len == 0 {
            return None;
        }
        let d = self.queue[self.head].take();
        self.head = (self.head + 1) % SIM_QUEUE;
        self.len -= 1;
        d
    }

    fn event(&mut self, o: &SimOrder, status: OrderStatus, reason: RejectReason) -> OrderEvent {
        self.clock_ms += 1;
        OrderEvent {
            order_id: o.order_id,
            link_id: o.link_id,
            side: o.side,
            price: Ticks(o.price),
            qty: Lots(o.qty),
            leaves_qty: Lots(if status.is_open() { o.qty - o.cum } else { 0 }),
            cum_exec_qty: Lots(o.cum),
            status,
            reject_reason: reason,
            updated: ExchMs(self.clock_ms),
        }
    }

    fn emit(&mut self, o: &SimOrder, status: OrderStatus, reason: RejectReason) {
        let e = self.event(o, status, reason);
        if let Some(x) = self.orders.iter_mut().find(|x| x.order_id == o.order_id) {
            x.updated = e.updated.0;
        }
        self.push(Delivery::Order(e));
    }

    fn find(&self, r: &gapmm::oms::OrderRef) -> Option<usize> {
        self.orders.iter().position(|o| {
            o.live
                && ((!r.order_id.is_empty() && o.order_id == r.order_id)
                    || (r.order_id.is_empty() && o.link_id == r.link_id))
        })
    }

    fn crosses(&self, side: Side, price: i64) -> bool {
        match side {
            Side::Buy => price >= self.touch.1,
            Side::Sell => price <= self.touch.0,
        }
    }

    fn ack(&mut self, op: AckOp, link_id: OrderLinkId, order_id: OrderId, ret_code: i64) {
        self.push(Delivery::Ack(AckEvent {
            op,
            link_id,
            order_id,
            ret_code,
        }));
    }

    fn amend(&mut self, r: &gapmm::oms::AmendReq) {
        match self.find(&r.order) {
            Some(k) => {
                let o = self.orders[k];
                let qty = r.qty.map(|q| q.0).unwrap_or(o.qty);
                if qty <= o.cum {
                    self.ack(AckOp::Amend, o.link_id, o.order_id, 110064);
                    return;
                }
                self.ack(AckOp::Amend, o.link_id, o.order_id, 0);
                if self.crosses(o.side, r.price.0) {
                    self.orders[k].live = false;
                    self.post_only_kills += 1;
                    let mut o2 = o;
                    o2.price = r.price.0;
                    let e = self.event(
                        &o2,
                        OrderStatus::Cancelled,
                        RejectReason::PostOnlyWillTakeLiquidity,
                    );
                    self.push(Delivery::Order(e));
                    return;
                }
                self.orders[k].price = r.price.0;
                self.orders[k].qty = qty;
                let o = self.orders[k];
                let st = if o.cum > 0 {
                    OrderStatus::PartiallyFilled
                } else {
                    OrderStatus::New
                };
                self.emit(&o, st, RejectReason::None);
            }
            None => self.ack(AckOp::Amend, r.order.link_id, r.order.order_id, 110001),
        }
    }

    /// Processes one action; returns `true` for `QueryOpenOrders` (the caller
    /// answers it with [`Sim::open_orders`]).
    pub fn submit(&mut self, a: &Action) -> bool {
        match *a {
            Action::Create {
                side,
                price,
                qty,
                link_id,
                ..
            } => {
                let order_id = oid(self.next_oid);
                self.next_oid += 1;
                self.ack(AckOp::Create, link_id, order_id, 0);
                let o = SimOrder {
                    live: true,
                    order_id,
                    link_id,
                    side,
                    price: price.0,
                    qty: qty.0,
                    cum: 0,
                    updated: 0,
                };
                if self.crosses(side, price.0) {
                    self.post_only_kills += 1;
                    self.emit(
                        &o,
                        OrderStatus::Cancelled,
                        RejectReason::PostOnlyWillTakeLiquidity,
                    );
                } else if let Some(slot) = self.orders.iter_mut().find(|o| !o.live) {
                    *slot = o;
                    self.emit(&o, OrderStatus::New, RejectReason::None);
                }
            }
            Action::Amend { req, .. } => self.amend(&req),
            Action::AmendBatch { reqs, .. } => {
                self.amend(&reqs[0]);
                self.amend(&reqs[1]);
            }
            Action::Cancel { order, .. } => match self.find(&order) {
                Some(k) => {
                    self.orders[k].live = false;
                    let o = self.orders[k];
                    self.ack(AckOp::Cancel, o.link_id, o.order_id, 0);
                    self.emit(&o, OrderStatus::Cancelled, RejectReason::None);
                }
                None => self.ack(AckOp::Cancel, order.link_id, order.order_id, 110001),
            },
            Action::CancelAll => {
                for k in 0..SIM_ORDERS {
                    if self.orders[k].live {
                        self.orders[k].live = false;
                        let o = self.orders[k];
                        self.emit(&o, OrderStatus::Cancelled, RejectReason::None);
                    }
                }
            }
            Action::QueryOpenOrders => return true,
        }
        false
    }

    /// A taker trades `qty` against our resting order on `side` (if any):
    /// the fill is queued twice (`execution.fast` without link id or fee,
    /// then `execution`) followed by the order event.
    pub fn trade(&mut self, side: Side, qty: i64) {
        self.trade_ordered(side, qty, false)
    }

    /// As [`Sim::trade`]; with `event_first` the order stream reports the
    /// execution before either execution stream does.
    pub fn trade_ordered(&mut self, side: Side, qty: i64, event_first: bool) {
        let Some(k) = self.orders.iter().position(|o| o.live && o.side == side) else {
            return;
        };
        let o = self.orders[k];
        let q = qty.min(o.qty - o.cum);
        if q <= 0 {
            return;
        }
        self.orders[k].cum += q;
        self.position += side.sign() * q;
        let exec = self.next_exec;
        self.next_exec += 1;
        let fast = fill(
            exec,
            o.order_id,
            OrderLinkId::default(),
            side,
            o.price,
            q,
            None,
        );
        let full = fill(exec, o.order_id, o.link_id, side, o.price, q, Some("0.001"));
        let o = self.orders[k];
        let st = if o.cum == o.qty {
            self.orders[k].live = false;
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        if event_first {
            self.emit(&o, st, RejectReason::None);
        }
        self.push(Delivery::Fill(fast));
        self.push(Delivery::Fill(full));
        if !event_first {
            self.emit(&o, st, RejectReason::None);
        }
    }

    /// Open orders as a query would return them (into `out`).
    pub fn open_orders(&self, out: &mut [OrderEvent; SIM_ORDERS]) -> usize {
        let mut n = 0;
        for o in self.orders.iter().filter(|o| o.live) {
            let st = if o.cum > 0 {
                OrderStatus::PartiallyFilled
            } else {
                OrderStatus::New
            };
            out[n] = OrderEvent {
                order_id: o.order_id,
                link_id: o.link_id,
                side: o.side,
                price: Ticks(o.price),
                qty: Lots(o.qty),
                leaves_qty: Lots(o.qty - o.cum),
                cum_exec_qty: Lots(o.cum),
                status: st,
                reject_reason: RejectReason::None,
                updated: ExchMs(o.updated),
            };
            n += 1;
        }
        n
    }

    /// Live orders on `side`.
    pub fn live(&self, side: Side) -> usize {
        self.orders
            .iter()
            .filter(|o| o.live && o.side == side)
            .count()
    }

    /// Resting quantity on `side`.
    pub fn leaves(&self, side: Side) -> i64 {
        self.orders
            .iter()
            .filter(|o| o.live && o.side == side)
            .map(|o| o.qty - o.cum)
            .sum()
    }
}

/// Delivers one queued message to the order manager; returns its actions'
/// count after submitting them to the exchange (queries answered at once).
pub fn deliver_one(
    oms: &mut Oms,
    sim: &mut Sim,
    now: u64,
    scratch: &mut [OrderEvent; SIM_ORDERS],
) -> bool {
    let Some(d) = sim.pop() else { return false };
    let acts: [Option<Action>; 16] = {
        let a = match d {
            Delivery::Order(e) => oms.on_order_update(&e, now).unwrap(),
            Delivery::Fill(f) => oms.on_fill(&f, now).unwrap(),
            Delivery::Ack(a) => oms.on_ack(&a, now),
        };
        copy_actions(a)
    };
    submit_all(oms, sim, &acts, now, scratch);
    true
}

pub fn copy_actions(a: &[Action]) -> [Option<Action>; 16] {
    let mut out = [None; 16];
    for (o, x) in out.iter_mut().zip(a.iter()) {
        *o = Some(*x);
    }
    out
}

pub fn submit_all(
    oms: &mut Oms,
    sim: &mut Sim,
    acts: &[Option<Action>; 16],
    now: u64,
    scratch: &mut [OrderEvent; SIM_ORDERS],
) {
    for a in acts.iter().flatten() {
        if sim.submit(a) {
            let n = sim.open_orders(scratch);
            let more = copy_actions(oms.on_open_orders(&scratch[..n], sim.clock(), now));
            for m in more.iter().flatten() {
                sim.submit(m);
            }
        }
    }
}
