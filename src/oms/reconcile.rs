//! The decision step: from the current target, the two order slots, strays,
//! position and budget to the requests to send now; and reconciliation with
//! an open-order snapshot (start-up adoption and after reconnects/timeouts).
//!
//! One decision runs in four passes, in priority order:
//! 1. cancels — strays, and sides the target pulls or the position limit
//!    forbids (exempt from the minimum update interval);
//! 2. amends — a working order whose price differs, or whose resting quantity
//!    must shrink to respect the position limit; both sides at once become a
//!    single batch amend (a partial fill is topped up only with a price move,
//!    so a steady quote keeps its queue priority);
//! 3. creates — an empty side with no stray (pending creates count as
//!    working orders, so a side never holds two);
//! 4. a query for open orders if any order's state is unknown.
//!
//! Creates and amends are skipped while a link is down, a snapshot is
//! awaited or an open-order query is unanswered; skipped work is retried on
//! the next call (targets are kept).
//!
//! Open-order answers may be read long after the query was sent, with order
//! events, acks and fills read in between (the engine never blocks on the
//! query). So an answer is applied only to the query it answers
//! ([`super::QueryTicket`]); it is judged as of the time the query was asked
//! for, and it can declare an order gone only if nothing newer than that —
//! a request sent, or the order stream reporting the order open — is known
//! about it. An order the order stream reported closed is never revived by
//! an answer that still lists it.
//!
//! Contract: no allocation, no panic, `now` from the caller.

use super::order::Op;
use super::{si, Action, AmendReq, Oms, OrderEvent, OrderRef, OrderState, QueryTicket, Target};
use crate::oms::budget::Endpoint;
use crate::oms::journal::Record;
use crate::oms::link_id::is_ours;
use crate::time::ExchMs;
use crate::units::{Lots, Side, Ticks};

const SIDES: [Side; 2] = [Side::Buy, Side::Sell];

impl Oms {
    /// The price and resting quantity `side` should show for target `t`, or
    /// `None` if the side must be empty.
    pub(crate) fn desired(&self, side: Side, t: &Target) -> Option<(Ticks, Lots)> {
        let i = si(side);
        let (bb, ba) = self.touch;
        if bb.0 <= 0 || ba.0 <= bb.0 {
            return None;
        }
        let extra = self.extra[i];
        let price = match side {
            Side::Buy => {
                let mut p = t.bid?.0.min(ba.0.saturating_sub(1).saturating_sub(extra));
                if let Some(c) = self.replace_cap[i] {
                    p = p.min(c.0);
                }
                p
            }
            Side::Sell => {
                let mut p = t.ask?.0.max(bb.0.saturating_add(1).saturating_add(extra));
                if let Some(c) = self.replace_cap[i] {
                    p = p.max(c.0);
                }
                p
            }
        };
        if price <= 0 {
            return None;
        }
        // Executions of the slot's order not yet seen as fills will still
        // move the position: they take room before any resting quantity.
        let cap = self.cap(side).saturating_sub(self.slots[i].unsettled().0);
        let qty = t.qty.0.min(cap);
        if qty < self.cfg.min_qty.0 || qty <= 0 {
            return None;
        }
        Some((Ticks(price), Lots(qty)))
    }

    /// Room left on `side` under the position limit, excluding the slot.
    fn cap(&self, side: Side) -> i64 {
        self.cfg
            .max_position
            .0
            .saturating_sub(side.sign().saturating_mul(self.pnl.position.0))
            .saturating_sub(self.stray_exposure(side))
    }

    fn stray_exposure(&self, side: Side) -> i64 {
        self.strays()
            .filter(|s| s.side == side)
            .map(|s| s.exposure().0)
            .fold(0i64, |a, b| a.saturating_add(b))
    }

    fn interval_ok(&self, i: usize, now: u64) -> bool {
        if now < self.hold_until[i] {
            return false;
        }
        match self.last_action_ns[i] {
            Some(t) => now >= t.saturating_add(self.cfg.min_update_interval_ns),
            None => true,
        }
    }

    fn order_ref(&self, i: usize) -> OrderRef {
        OrderRef {
            order_id: self.slots[i].order_id,
            link_id: self.slots[i].link_id,
        }
    }

    /// Runs one decision (see the module docs), appending to `self.out`.
    pub(crate) fn reconcile(&mut self, now: u64) {
        self.give_up_query(now);
        let u = self.target.map(|t| t.trigger_u).unwrap_or_default();

        // Pass 1: cancels.
        if self.halted {
            if self.cancel_all_pending
                && self.out.has_room()
                && self.budget.try_take(Endpoint::CancelAll, 1, now)
            {
                self.cancel_all_pending = false;
                self.out.push(Action::CancelAll);
                self.journal_record(&Record::CancelAll { ts: now });
            }
            return;
        }
        for k in 0..self.strays.len() {
            // Most entries are unused: skip them before copying one (a
            // stray is ~170 bytes; copying all eight cost every decision
            // 1.4 KB of memcpy).
            if !self.strays[k].active {
                continue;
            }
            let s = self.strays[k];
            if s.active && s.ghost {
                if now >= s.expires_ns {
                    self.strays[k].active = false;
                }
                continue;
            }
            let due = s.active
                && s.cancel_ns
                    .is_none_or(|t| now.saturating_sub(t) >= self.cfg.ack_timeout_ns);
            if due && self.out.has_room() && self.budget.try_take(Endpoint::Cancel, 1, now) {
                self.strays[k].cancel_ns = Some(now);
                self.stats.stray_cancels += 1;
                let order = OrderRef {
                    order_id: s.order_id,
                    link_id: s.link_id,
                };
                self.out.push(Action::Cancel {
                    side: s.side,
                    order,
                    trigger_u: u,
                });
                self.journal_record(&Record::Cancel {
                    ts: now,
                    side: s.side,
                    order_id: &s.order_id,
                    link_id: &s.link_id,
                });
            }
        }
        let target = match self.target {
            Some(t) => t,
            None => {
                self.maybe_query(now);
                return;
            }
        };
        let desired = [
            self.desired(Side::Buy, &target),
            self.desired(Side::Sell, &target),
        ];
        for side in SIDES {
            let i = si(side);
            let cancellable = matches!(
                self.slots[i].state,
                OrderState::PendingNew | OrderState::Working | OrderState::PendingAmend
            );
            if desired[i].is_none() {
                self.replace_due[i] = false;
            }
            // A pending order that no longer fits the position limit (the
            // position moved under it) cannot be amended yet: pull it.
            let cap = self.cap(side);
            let breach = matches!(
                self.slots[i].state,
                OrderState::PendingNew | OrderState::PendingAmend
            ) && self.slots[i].exposure().0 > cap;
            if cancellable
                && (desired[i].is_none() || breach)
                && self.out.has_room()
                && self.budget.try_take(Endpoint::Cancel, 1, now)
            {
                let order = self.order_ref(i);
                self.slots[i].start_cancel(now);
                self.out.push(Action::Cancel {
                    side,
                    order,
                    trigger_u: u,
                });
                self.journal_record(&Record::Cancel {
                    ts: now,
                    side,
                    order_id: &order.order_id,
                    link_id: &order.link_id,
                });
            }
        }

        // An unanswered query holds creates and amends: its answer judges
        // the orders as of the time it was asked for.
        let frozen = !self.trade_up
            || !self.private_up
            || self.awaiting_snapshot
            || self.query_sent_ns.is_some();
        if !frozen {
            // Pass 2: amends.
            let mut reqs: [Option<AmendReq>; 2] = [None, None];
            for side in SIDES {
                let i = si(side);
                let s = &self.slots[i];
                let Some((p, l)) = desired[i] else { continue };
                if s.state != OrderState::Working {
                    continue;
                }
                let reprice = p != s.price;
                let shrink = l.0 < s.leaves.0;
                if !(reprice || shrink) {
                    continue;
                }
                if !self.interval_ok(i, now) {
                    self.stats.interval_held += 1;
                    continue;
                }
                let total = Lots(s.cum_exec.0.saturating_add(l.0));
                let qty = if total != s.qty { Some(total) } else { None };
                reqs[i] = Some(AmendReq {
                    side,
                    order: self.order_ref(i),
                    price: p,
                    qty,
                });
            }
            match reqs {
                [Some(b), Some(a)]
                    if self.out.has_room()
                        && self.budget.try_take(Endpoint::AmendBatch, 2, now) =>
                {
                    self.start_amend(&b, now);
                    self.start_amend(&a, now);
                    self.out.push(Action::AmendBatch {
                        reqs: [b, a],
                        trigger_u: u,
                    });
                }
                _ => {
                    for r in reqs.into_iter().flatten() {
                        if self.out.has_room() && self.budget.try_take(Endpoint::Amend, 1, now) {
                            self.start_amend(&r, now);
                            self.out.push(Action::Amend {
                                req: r,
                                trigger_u: u,
                            });
                        }
                    }
                }
            }

            // Pass 3: creates.
            for side in SIDES {
                let i = si(side);
                let Some((p, l)) = desired[i] else { continue };
                if self.slots[i].is_live() || self.strays().any(|s| s.side == side && !s.ghost) {
                    continue;
                }
                if !self.replace_due[i] && !self.interval_ok(i, now) {
                    self.stats.interval_held += 1;
                    continue;
                }
                if self.out.has_room() && self.budget.try_take(Endpoint::Create, 1, now) {
                    let link_id = self.ids.next(target.trigger_u);
                    self.slots[i].start_create(link_id, p, l, now);
                    self.last_action_ns[i] = Some(now);
                    self.replace_due[i] = false;
                    self.out.push(Action::Create {
                        side,
                        price: p,
                        qty: l,
                        link_id,
                        trigger_u: target.trigger_u,
                    });
                    self.journal_record(&Record::Create {
                        ts: now,
                        side,
                        price: p,
                        qty: l,
                        link_id: &link_id,
                    });
                }
            }
        }

        // Pass 4: queries.
        self.maybe_query(now);
    }

    fn start_amend(&mut self, r: &AmendReq, now: u64) {
        let i = si(r.side);
        let s = &mut self.slots[i];
        let qty = r.qty.unwrap_or(s.qty);
        s.start_amend(r.price, qty, now);
        self.last_action_ns[i] = Some(now);
        self.journal_record(&Record::Amend {
            ts: now,
            side: r.side,
            order_id: &r.order.order_id,
            link_id: &r.order.link_id,
            price: r.price,
            qty: r.qty,
        });
    }

    /// An unanswered query nothing needs any more (the order stream settled
    /// what was unknown) stops holding creates and amends once it has had
    /// its time; its answer, if it still comes, is ignored.
    fn give_up_query(&mut self, now: u64) {
        let wait = self.query_wait_ns();
        let expired = self
            .query_sent_ns
            .is_some_and(|t| now.saturating_sub(t) >= wait);
        let needed =
            self.awaiting_snapshot || self.slots.iter().any(|s| s.state == OrderState::Unknown);
        if expired && !needed {
            self.query_sent_ns = None;
        }
    }

    /// How long the current query is given before it is asked again.
    fn query_wait_ns(&self) -> u64 {
        self.cfg
            .query_timeout_ns
            .saturating_mul(1u64 << self.query_misses.min(3))
    }

    fn maybe_query(&mut self, now: u64) {
        if !self.private_up {
            return;
        }
        let unknown = self.slots.iter().any(|s| s.state == OrderState::Unknown);
        if !(unknown || self.awaiting_snapshot) {
            return;
        }
        // Before the first snapshot the engine fetches open orders itself.
        if self.awaiting_snapshot
            && !unknown
            && self.query_sent_ns.is_none()
            && self.target.is_none()
        {
            return;
        }
        let wait = self.query_wait_ns();
        let due = self
            .query_sent_ns
            .is_none_or(|t| now.saturating_sub(t) >= wait);
        // An order an answer just left unknown (a create that may still be
        // on its way to the book) is asked about again a query timeout
        // later; a new link (awaiting its snapshot) or an order newly
        // unknown is asked about at once.
        let spaced = self.awaiting_snapshot
            || self.answered_ns.is_none_or(|(t, unknowns)| {
                unknowns != self.stats.unknowns
                    || now.saturating_sub(t) >= self.cfg.query_timeout_ns
            });
        if due && spaced && self.out.has_room() && self.budget.try_take(Endpoint::Query, 1, now) {
            if self.query_sent_ns.is_some() {
                // The last one went unanswered: give the next one longer.
                self.query_misses = self.query_misses.saturating_add(1);
            }
            self.query_sent_ns = Some(now);
            self.query_seq = self.query_seq.wrapping_add(1);
            self.stats.queries += 1;
            self.out.push(Action::QueryOpenOrders);
        }
    }

    /// Start-up: adopts the open orders of ours (prefix family `gm`, any run),
    /// at most one per side; further orders of ours are cancelled; foreign
    /// orders are left alone. Quoting starts after this call.
    pub fn adopt_open_orders(&mut self, orders: &[OrderEvent], now: u64) -> &[Action] {
        self.out.len = 0;
        self.apply_snapshot(orders, ExchMs(0), now, now);
        self.out.as_slice()
    }

    /// The answer to the query named by `ticket` (all pages; see
    /// [`Oms::query_ticket`]): every open order of ours is either a side's
    /// order or a stray being cancelled — none is dropped (nautilus #5000).
    /// A tracked order not listed is gone (filled or cancelled; its fills
    /// arrive from the execution stream or replay) only if its last request
    /// and the order stream's last report of it open both predate the query.
    /// `as_of` is the response's exchange time (`time`): order events stamped
    /// no later than it for an order found gone are recognised as stale
    /// afterwards. An answer whose ticket is not the awaited query's (an
    /// abandoned or superseded query, or one asked before its link went
    /// down) changes nothing and is counted in `stale_answers`.
    pub fn on_query_answer(
        &mut self,
        ticket: QueryTicket,
        orders: &[OrderEvent],
        as_of: ExchMs,
        now: u64,
    ) -> &[Action] {
        self.out.len = 0;
        let Some(asof) = self
            .query_sent_ns
            .filter(|_| self.query_ticket() == Some(ticket))
        else {
            self.stats.stale_answers += 1;
            return self.out.as_slice();
        };
        self.apply_snapshot(orders, as_of, asof, now);
        self.out.as_slice()
    }

    /// [`Oms::on_query_answer`] for the query awaited now — for callers that
    /// answer a query at once, before any other input (tests, tools). Without
    /// an awaited query the answer is ignored.
    pub fn on_open_orders(&mut self, orders: &[OrderEvent], as_of: ExchMs, now: u64) -> &[Action] {
        match self.query_ticket() {
            Some(t) => self.on_query_answer(t, orders, as_of, now),
            None => {
                self.out.len = 0;
                self.stats.stale_answers += 1;
                self.out.as_slice()
            }
        }
    }

    /// Applies an open-order snapshot taken no earlier than `asof`
    /// (monotonic ns), then decides.
    fn apply_snapshot(&mut self, orders: &[OrderEvent], as_of: ExchMs, asof: u64, now: u64) {
        // Tracked slots.
        for i in 0..2 {
            let s = self.slots[i];
            if !s.is_live() || s.req_ns > asof {
                continue;
            }
            match orders
                .iter()
                .find(|o| o.status.is_open() && s.matches(&o.order_id, &o.link_id))
            {
                Some(o) => {
                    let slot = &mut self.slots[i];
                    slot.take_fields(o);
                    slot.inflight = None;
                    // Listed as open after every request we had sent: the
                    // order works at the listed values (a cancel sent before
                    // the query failed or is slow; the decision re-cancels if
                    // the side is still unwanted).
                    slot.state = OrderState::Working;
                }
                None if s.seen_ns.is_some_and(|t| t >= asof) => {
                    // The order stream reported it open after the query was
                    // asked for: the snapshot may predate it (the answer and
                    // the stream travel on different connections). The
                    // stream, the ack timeout or a later query settles it.
                }
                None if s.inflight == Some(Op::Create)
                    && asof < s.req_ns.saturating_add(self.cfg.ack_timeout_ns) =>
                {
                    // A create (pending, or unknown after its link dropped)
                    // may simply not have reached the book when the query was
                    // served: orders and the query travel on different
                    // connections, and the exchange can serve the query
                    // first. Taking it for gone would create the side a
                    // second time. It stays as it is; its ack, its order
                    // event, or a query asked an ack timeout after it was
                    // sent (by when it has reached the book or never will)
                    // settles it.
                }
                None => {
                    // Filled or cancelled: until its fills could have arrived,
                    // its quantity still counts.
                    self.remember_gone(&s.order_id, &s.link_id, as_of);
                    self.add_ghost(s.side, &s.order_id, &s.link_id, s.exposure(), now);
                    self.slots[i] = super::OrderSlot::empty(s.side);
                }
            }
        }
        // Strays no longer listed are gone.
        for k in 0..self.strays.len() {
            let st = self.strays[k];
            if !st.active {
                continue;
            }
            if st.ghost {
                // A listed ghost is alive after all: track it as an order.
                let alive = orders.iter().any(|o| {
                    o.status.is_open()
                        && st.matches(&o.order_id, &o.link_id)
                        && !self.closed_on_stream(o)
                });
                if alive {
                    self.strays[k].active = false;
                }
                continue;
            }
            let listed = orders.iter().any(|o| {
                o.status.is_open()
                    && ((!o.order_id.is_empty() && o.order_id == st.order_id)
                        || (!o.link_id.is_empty() && o.link_id == st.link_id))
            });
            if !listed
                && st.cancel_ns.is_none_or(|t| t <= asof)
                && st.seen_ns.is_none_or(|t| t < asof)
            {
                self.strays[k].active = false;
                self.remember_gone(&st.order_id, &st.link_id, as_of);
            }
        }
        // Untracked orders of ours: adopt one per side, the rest are strays.
        for o in orders.iter().filter(|o| o.status.is_open()) {
            let tracked = self
                .slots
                .iter()
                .any(|s| s.matches(&o.order_id, &o.link_id))
                || self
                    .strays()
                    .any(|s| !s.ghost && s.matches(&o.order_id, &o.link_id));
            if tracked {
                continue;
            }
            if !is_ours(&o.link_id) {
                self.stats.foreign_events += 1;
                continue;
            }
            if self.closed_on_stream(o) {
                // The order stream already reported it closed (a snapshot
                // taken before that): it is not revived.
                continue;
            }
            let i = si(o.side);
            if !self.slots[i].is_live() {
                let s = &mut self.slots[i];
                *s = super::OrderSlot::empty(o.side);
                s.state = OrderState::Working;
                s.link_id = o.link_id;
                s.order_id = o.order_id;
                s.price = o.price;
                s.qty = o.qty;
                s.leaves = o.leaves_qty;
                s.cum_exec = o.cum_exec_qty;
                // Past fills are in the position the engine restored.
                s.filled = o.cum_exec_qty;
                s.updated = o.updated;
                s.req_ns = now;
            } else {
                self.add_stray(o, o.cum_exec_qty, now);
            }
        }
        self.awaiting_snapshot = false;
        self.query_sent_ns = None;
        self.query_misses = 0;
        self.answered_ns = Some((now, self.stats.unknowns));
        self.reconcile(now);
    }
}
